// The traced Spring service: GET /hello calls a downstream (a Node service in the tests) and wraps its answer.
package dev.trellis.tracing;

import java.util.Map;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

@SpringBootApplication
@RestController
public class TracingApplication {

  private final RestClient downstream;

  // Built from Boot's RestClient.Builder, never RestClient.create(): only that one carries the observation registry,
  // so the outgoing call is a client span and the trace context goes out in its headers.
  public TracingApplication(RestClient.Builder builder, @Value("${downstream.url}") String downstreamUrl) {
    this.downstream = builder.baseUrl(downstreamUrl).build();
  }

  @GetMapping("/hello")
  public Map<String, Object> hello() {
    String body = downstream.get().retrieve().body(String.class);
    return Map.of("from", "spring", "downstream", body == null ? "" : body);
  }

  public static void main(String[] args) {
    SpringApplication.run(TracingApplication.class, args);
  }
}
