package dev.trellis.interop.stream;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.messaging.Message;
import org.springframework.stereotype.Component;

/** Every delivery the app's consumer saw, attempts included, as the test reads it back over HTTP. */
@Component
public class Inbox {
  private final List<Map<String, Object>> deliveries = new ArrayList<>();

  /**
   * Records the payload as Spring converted it and each header with its Java type, so the test can tell a header
   * Spring read as a String from one it left as bytes.
   */
  public synchronized void add(Message<Event> message) {
    Map<String, Object> headers = new LinkedHashMap<>();
    message.getHeaders().forEach((name, value) -> headers.put(name, describe(value)));
    Map<String, Object> delivery = new LinkedHashMap<>();
    delivery.put("payload", message.getPayload());
    delivery.put("headers", headers);
    deliveries.add(delivery);
  }

  public synchronized List<Map<String, Object>> all() {
    return List.copyOf(deliveries);
  }

  private static Map<String, Object> describe(Object value) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("type", value == null ? "null" : value.getClass().getName());
    out.put(
        "value",
        value instanceof byte[] bytes ? Base64.getEncoder().encodeToString(bytes) : String.valueOf(value));
    return out;
  }
}
