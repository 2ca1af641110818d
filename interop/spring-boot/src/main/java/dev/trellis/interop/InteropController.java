package dev.trellis.interop;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.cloud.client.ServiceInstance;
import org.springframework.cloud.client.discovery.DiscoveryClient;
import org.springframework.core.env.Environment;
import org.springframework.http.ResponseEntity;
import org.springframework.security.oauth2.server.resource.authentication.AbstractOAuth2TokenAuthenticationToken;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/** What the test asks the app: whom it discovered, which configuration it got, and who called it. */
@RestController
public class InteropController {
  private final DiscoveryClient discovery;
  private final Environment environment;

  public InteropController(DiscoveryClient discovery, Environment environment) {
    this.discovery = discovery;
    this.environment = environment;
  }

  /** The instances of {app} that Spring's DiscoveryClient (the Eureka client's local cache) knows. */
  @GetMapping("/discovered/{app}")
  public List<Map<String, Object>> discovered(@PathVariable String app) {
    return discovery.getInstances(app).stream().map(InteropController::describe).toList();
  }

  private static Map<String, Object> describe(ServiceInstance instance) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("instanceId", instance.getInstanceId());
    out.put("serviceId", instance.getServiceId());
    out.put("host", instance.getHost());
    out.put("port", instance.getPort());
    out.put("secure", instance.isSecure());
    out.put("uri", instance.getUri().toString());
    out.put("metadata", instance.getMetadata());
    return out;
  }

  /** One property as the app's Environment resolves it (the config server's sources included); 404 when unset. */
  @GetMapping("/config/{key}")
  public ResponseEntity<String> config(@PathVariable String key) {
    String value = environment.getProperty(key);
    return value == null ? ResponseEntity.notFound().build() : ResponseEntity.ok(value);
  }

  /**
   * Needs SCOPE_product:read (see SecurityConfig); answers with the token's client and scopes, as the JWT's claims or
   * the introspection answer name them (opaque-token mode lists the scopes, a JWT has them space-separated).
   */
  @GetMapping("/products/{id}")
  public Map<String, Object> product(@PathVariable int id, AbstractOAuth2TokenAuthenticationToken<?> token) {
    Map<String, Object> attributes = token.getTokenAttributes();
    Object scope = attributes.get("scope");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("productId", id);
    out.put("clientId", String.valueOf(attributes.get("client_id")));
    out.put(
        "scope",
        scope instanceof Collection<?> list
            ? String.join(" ", list.stream().map(String::valueOf).toList())
            : String.valueOf(scope));
    out.put("issuer", String.valueOf(attributes.get("iss")));
    return out;
  }
}
