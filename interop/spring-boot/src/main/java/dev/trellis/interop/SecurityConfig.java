package dev.trellis.interop;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;

/**
 * The usual resource-server set-up: JWTs validated through the issuer's discovery document and JWKS (issuer-uri in
 * application.yml), scopes mapped to SCOPE_* authorities by Spring's defaults. The discovery and config probes are
 * open so the test can read what the app saw without a token.
 */
@Configuration
public class SecurityConfig {
  @Bean
  SecurityFilterChain api(HttpSecurity http) throws Exception {
    http.authorizeHttpRequests(
            requests ->
                requests
                    .requestMatchers("/actuator/health", "/actuator/health/**", "/discovered/**", "/config/**")
                    .permitAll()
                    .requestMatchers("/products/**")
                    .hasAuthority("SCOPE_product:read")
                    .anyRequest()
                    .authenticated())
        .oauth2ResourceServer(server -> server.jwt(Customizer.withDefaults()))
        .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
        .csrf(csrf -> csrf.disable());
    return http.build();
  }
}
