package dev.trellis.interop.stream;

import java.util.List;
import java.util.Map;
import org.springframework.cloud.stream.function.StreamBridge;
import org.springframework.http.ResponseEntity;
import org.springframework.messaging.support.MessageBuilder;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** What the test asks the app: publish an event to Node (binding `toNode-out-0`), and list what it received. */
@RestController
public class PublishController {
  private final StreamBridge bridge;
  private final Inbox inbox;

  public PublishController(StreamBridge bridge, Inbox inbox) {
    this.bridge = bridge;
    this.inbox = inbox;
  }

  /**
   * Sends the event with the headers a Spring producer typically adds: the partition key the binding's
   * partitionKeyExpression reads (as the notes' services do), a String and an Integer header.
   */
  @PostMapping("/publish")
  public ResponseEntity<Void> publish(@RequestBody Event event) {
    var message =
        MessageBuilder.withPayload(event)
            .setHeader("partitionKey", event.key())
            .setHeader("origin", "spring")
            .setHeader("seq", event.seq())
            .build();
    return bridge.send("toNode-out-0", message)
        ? ResponseEntity.accepted().build()
        : ResponseEntity.internalServerError().build();
  }

  @GetMapping("/received")
  public List<Map<String, Object>> received() {
    return inbox.all();
  }
}
