package dev.trellis.interop;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;

/**
 * The usual resource-server set-ups. By default JWTs are validated through the issuer's discovery document and JWKS
 * (issuer-uri in application.yml); with the {@code introspection} profile every token is sent to the issuer's RFC 7662
 * introspection endpoint instead (opaque-token mode, application-introspection.yml), which sees a revocation at once.
 * Scopes map to SCOPE_* authorities by Spring's defaults in both. The discovery and config probes are open so the test
 * can read what the app saw without a token.
 */
@Configuration
public class SecurityConfig {
  @Bean
  @Profile("!introspection")
  SecurityFilterChain api(HttpSecurity http) throws Exception {
    return rules(http).oauth2ResourceServer(server -> server.jwt(Customizer.withDefaults())).build();
  }

  @Bean
  @Profile("introspection")
  SecurityFilterChain introspected(HttpSecurity http) throws Exception {
    return rules(http).oauth2ResourceServer(server -> server.opaqueToken(Customizer.withDefaults())).build();
  }

  private static HttpSecurity rules(HttpSecurity http) throws Exception {
    return http.authorizeHttpRequests(
            requests ->
                requests
                    .requestMatchers("/actuator/health", "/actuator/health/**", "/discovered/**", "/config/**")
                    .permitAll()
                    .requestMatchers("/products/**")
                    .hasAuthority("SCOPE_product:read")
                    .anyRequest()
                    .authenticated())
        .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
        .csrf(csrf -> csrf.disable());
  }
}
