package dev.trellis.interop;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Entry point: everything else is Spring's auto-configuration, driven by application.yml and the command line. */
@SpringBootApplication
public class InteropApplication {
  public static void main(String[] args) {
    SpringApplication.run(InteropApplication.class, args);
  }
}
