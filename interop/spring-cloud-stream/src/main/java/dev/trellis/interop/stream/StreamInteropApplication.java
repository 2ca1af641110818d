package dev.trellis.interop.stream;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Entry point: the bindings come from application.yml and the active profile (`rabbit` or `kafka`). */
@SpringBootApplication
public class StreamInteropApplication {
  public static void main(String[] args) {
    SpringApplication.run(StreamInteropApplication.class, args);
  }
}
