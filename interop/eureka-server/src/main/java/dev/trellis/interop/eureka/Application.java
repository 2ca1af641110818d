// Spring Cloud's own Eureka server, enabled and nothing else: whatever it does is Eureka's behaviour, not ours.
package dev.trellis.interop.eureka;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.netflix.eureka.server.EnableEurekaServer;

@SpringBootApplication
@EnableEurekaServer
public class Application {
  public static void main(String[] args) {
    SpringApplication.run(Application.class, args);
  }
}
