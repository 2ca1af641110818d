// Recorded and reference payloads. The first two are verbatim from /work/shared/reference/eureka.md (joined onto
// one line, as Jackson writes them); the "expected" ones are derived by hand from Netflix's serializers
// (EurekaJacksonCodec.InstanceInfoSerializer, Converters.InstanceInfoConverter + XStream's PrettyPrintWriter),
// not from our renderer.

/** A Spring Cloud Netflix Eureka server's GET /eureka/apps answer with Accept: application/json. */
export const SERVER_APPS_JSON =
  '{"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"EUREKACONSUMER","instance":[{"instanceId":"host:eurekaconsumer:9002","hostName":"10.8.30.55","app":"EUREKACONSUMER","ipAddr":"10.8.30.55","status":"UP","overriddenStatus":"UNKNOWN","port":{"$":9002,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":1606972241104,"lastRenewalTimestamp":1606977221655,"evictionTimestamp":0,"serviceUpTimestamp":1606972240279},"metadata":{"management.port":"9002"},"homePageUrl":"http://10.8.30.55:9002/","statusPageUrl":"http://10.8.30.55:9002/actuator/info","healthCheckUrl":"http://10.8.30.55:9002/actuator/health","vipAddress":"eurekaconsumer","secureVipAddress":"eurekaconsumer","isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":"1606972241104","lastDirtyTimestamp":"1606972240190","actionType":"ADDED"}]}]}}';

/** The same registry as XmlXStream writes it (GET /eureka/apps without a JSON Accept header). */
export const SERVER_APPS_XML = `<applications>
  <versions__delta>1</versions__delta>
  <apps__hashcode>UP_1_</apps__hashcode>
  <application>
    <name>EUREKACONSUMER</name>
    <instance>
      <instanceId>host:eurekaconsumer:9002</instanceId>
      <hostName>10.8.30.55</hostName>
      <app>EUREKACONSUMER</app>
      <ipAddr>10.8.30.55</ipAddr>
      <status>UP</status>
      <overriddenstatus>UNKNOWN</overriddenstatus>
      <port enabled="true">9002</port>
      <securePort enabled="false">443</securePort>
      <countryId>1</countryId>
      <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
        <name>MyOwn</name>
      </dataCenterInfo>
      <leaseInfo>
        <renewalIntervalInSecs>30</renewalIntervalInSecs>
        <durationInSecs>90</durationInSecs>
        <registrationTimestamp>1606972241104</registrationTimestamp>
        <lastRenewalTimestamp>1606977221655</lastRenewalTimestamp>
        <evictionTimestamp>0</evictionTimestamp>
        <serviceUpTimestamp>1606972240279</serviceUpTimestamp>
      </leaseInfo>
      <metadata>
        <management.port>9002</management.port>
      </metadata>
      <homePageUrl>http://10.8.30.55:9002/</homePageUrl>
      <statusPageUrl>http://10.8.30.55:9002/actuator/info</statusPageUrl>
      <healthCheckUrl>http://10.8.30.55:9002/actuator/health</healthCheckUrl>
      <vipAddress>eurekaconsumer</vipAddress>
      <secureVipAddress>eurekaconsumer</secureVipAddress>
      <isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>
      <lastUpdatedTimestamp>1606972241104</lastUpdatedTimestamp>
      <lastDirtyTimestamp>1606972240190</lastDirtyTimestamp>
      <actionType>ADDED</actionType>
    </instance>
  </application>
</applications>`;

/** spring-cloud-starter-netflix-eureka-client's POST /eureka/apps/WEBSERVICE body (Jackson bean order, nulls kept). */
export const SPRING_REGISTRATION_JSON =
  '{"instance":{"instanceId":"host.docker.internal:webservice:8082","app":"WEBSERVICE","appGroupName":null,"ipAddr":"192.168.2.1","sid":"na","homePageUrl":"http://host.docker.internal:8082/","statusPageUrl":"http://host.docker.internal:8082/actuator/info","healthCheckUrl":"http://host.docker.internal:8082/actuator/health","secureHealthCheckUrl":null,"vipAddress":"webservice","secureVipAddress":"webservice","countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"hostName":"host.docker.internal","status":"UP","overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},"isCoordinatingDiscoveryServer":false,"lastUpdatedTimestamp":1630906180645,"lastDirtyTimestamp":1630906182808,"actionType":null,"asgName":null,"port":{"$":8082,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"metadata":{"management.port":"8082"}}}';

/**
 * The Spring registration as InstanceInfoSerializer writes it back (before the registry adds lease times and
 * actionType): server field order, sid "na" and the null @Auto fields left out, trailing fields as strings.
 */
export const SPRING_INSTANCE_AS_SERVED_JSON =
  '{"instance":{"instanceId":"host.docker.internal:webservice:8082","hostName":"host.docker.internal","app":"WEBSERVICE","ipAddr":"192.168.2.1","status":"UP","overriddenStatus":"UNKNOWN","port":{"$":8082,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},"metadata":{"management.port":"8082"},"homePageUrl":"http://host.docker.internal:8082/","statusPageUrl":"http://host.docker.internal:8082/actuator/info","healthCheckUrl":"http://host.docker.internal:8082/actuator/health","vipAddress":"webservice","secureVipAddress":"webservice","isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":"1630906180645","lastDirtyTimestamp":"1630906182808"}}';

/** The Spring registration in XmlXStream's format, as an XML-configured Netflix client would POST it. */
export const SPRING_REGISTRATION_XML = `<instance>
  <instanceId>host.docker.internal:webservice:8082</instanceId>
  <hostName>host.docker.internal</hostName>
  <app>WEBSERVICE</app>
  <ipAddr>192.168.2.1</ipAddr>
  <status>UP</status>
  <overriddenstatus>UNKNOWN</overriddenstatus>
  <port enabled="true">8082</port>
  <securePort enabled="false">443</securePort>
  <countryId>1</countryId>
  <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
    <name>MyOwn</name>
  </dataCenterInfo>
  <leaseInfo>
    <renewalIntervalInSecs>30</renewalIntervalInSecs>
    <durationInSecs>90</durationInSecs>
    <registrationTimestamp>0</registrationTimestamp>
    <lastRenewalTimestamp>0</lastRenewalTimestamp>
    <evictionTimestamp>0</evictionTimestamp>
    <serviceUpTimestamp>0</serviceUpTimestamp>
  </leaseInfo>
  <metadata>
    <management.port>8082</management.port>
  </metadata>
  <homePageUrl>http://host.docker.internal:8082/</homePageUrl>
  <statusPageUrl>http://host.docker.internal:8082/actuator/info</statusPageUrl>
  <healthCheckUrl>http://host.docker.internal:8082/actuator/health</healthCheckUrl>
  <vipAddress>webservice</vipAddress>
  <secureVipAddress>webservice</secureVipAddress>
  <isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>
  <lastUpdatedTimestamp>1630906180645</lastUpdatedTimestamp>
  <lastDirtyTimestamp>1630906182808</lastDirtyTimestamp>
</instance>`;

/**
 * eureka-js-client's register(): `{ instance: config.instance }` with status set to UP, using the README's
 * configuration (boolean @enabled, no instanceId, no leaseInfo, lower-case app as in its request path).
 */
export const EUREKA_JS_CLIENT_REGISTRATION_JSON = JSON.stringify({
  instance: {
    app: 'jqservice',
    hostName: 'localhost',
    ipAddr: '127.0.0.1',
    statusPageUrl: 'http://localhost:8080/info',
    port: { $: 8080, '@enabled': true },
    vipAddress: 'jq.test.something.com',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    status: 'UP',
  },
});
