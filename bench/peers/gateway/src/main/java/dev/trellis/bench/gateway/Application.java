// The bench's gateway: Spring Cloud Gateway's route from properties, behind a resource-server check of the bearer token.
package dev.trellis.bench.gateway;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.oauth2.jwt.JwtTypeValidator;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;

@SpringBootApplication
public class Application {
  public static void main(String[] args) {
    SpringApplication.run(Application.class, args);
  }

  /**
   * Every request needs a JWT with the scope the Trellis route's TokenCheck asks for; the decoder (JWKS, issuer and
   * audience) is Boot's, from spring.security.oauth2.resourceserver.jwt.*. Stateless, as the Trellis gateway is: no
   * session, no CSRF token, nothing kept between requests.
   */
  @Bean
  SecurityWebFilterChain security(ServerHttpSecurity http) {
    return http.authorizeExchange((exchanges) -> exchanges.anyExchange().hasAuthority("SCOPE_product:read"))
        .oauth2ResourceServer((resourceServer) -> resourceServer.jwt(Customizer.withDefaults()))
        .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
        .csrf(ServerHttpSecurity.CsrfSpec::disable)
        .build();
  }

  /**
   * Access tokens typed at+jwt (RFC 9068), as the Trellis auth server issues them and the Trellis gateway accepts:
   * Spring's decoder takes only typ JWT unless given this validator, which Boot adds to the issuer and audience checks.
   */
  @Bean
  JwtTypeValidator jwtTypeValidator() {
    return new JwtTypeValidator("JWT", "at+jwt");
  }
}
