package dev.trellis.interop.stream;

/**
 * The JSON both sides exchange. {@code fail} asks the consumer that gets it to throw, so the test can put a failure
 * on either side.
 */
public record Event(String key, int seq, String origin, boolean fail) {}
