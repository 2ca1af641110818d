// The bench's authorization server: Spring Authorization Server as Boot configures it from properties, plus the encoder
// that checks client secrets.
package dev.trellis.bench.authorization;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.security.crypto.factory.PasswordEncoderFactories;
import org.springframework.security.crypto.password.PasswordEncoder;

@SpringBootApplication
public class Application {
  public static void main(String[] args) {
    SpringApplication.run(Application.class, args);
  }

  /**
   * Spring's own DelegatingPasswordEncoder, the one the authorization server uses when given none, checking each
   * client's secret in the scheme its {id} prefix names ({SHA-256} for the raced client, {bcrypt} for the reference
   * one), but never "upgrading" it: given none, the server re-encodes a secret that is not BCrypt with BCrypt on its
   * first use, which would turn every later token request of the raced client into a BCrypt check.
   */
  @Bean
  PasswordEncoder passwordEncoder() {
    PasswordEncoder spring = PasswordEncoderFactories.createDelegatingPasswordEncoder();
    return new PasswordEncoder() {
      @Override
      public String encode(CharSequence rawPassword) {
        return spring.encode(rawPassword);
      }

      @Override
      public boolean matches(CharSequence rawPassword, String encodedPassword) {
        return spring.matches(rawPassword, encodedPassword);
      }
    };
  }
}
