package dev.trellis.interop.stream;

import java.util.function.Consumer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.messaging.Message;

/** The app's one consumer function (binding `fromNode-in-0`): it records each delivery, and fails those asked to. */
@Configuration
public class Bindings {
  @Bean
  public Consumer<Message<Event>> fromNode(Inbox inbox) {
    return message -> {
      inbox.add(message);
      Event event = message.getPayload();
      if (event.fail()) throw new IllegalStateException("refused by spring: " + event.key());
    };
  }
}
