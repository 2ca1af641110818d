import { describe, expect, it } from 'vitest';
import { parseInstance } from '../../src/eureka/index.ts';
import type { WireError, WireResult } from '../../src/eureka/index.ts';

function expectError<T>(result: WireResult<T>): WireError {
  if (result.ok) throw new Error('expected an error, got a parsed value');
  return result.error;
}

const VALID = {
  instanceId: 'host-1:svc:8080',
  app: 'svc',
  hostName: 'host-1',
  ipAddr: '10.0.0.1',
  dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
};

function register(instance: Record<string, unknown>, pathApp = 'SVC'): WireError {
  return expectError(parseInstance(JSON.stringify({ instance }), 'application/json', pathApp));
}

function without(key: keyof typeof VALID): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...VALID };
  delete copy[key];
  return copy;
}

describe('registration validation (ApplicationResource.addInstance)', () => {
  it('accepts the minimal valid body', () => {
    expect(parseInstance(JSON.stringify({ instance: VALID }), 'application/json', 'svc').ok).toBe(true);
  });

  it.each([
    ['hostName', without('hostName'), 'Missing hostname'],
    ['ipAddr', without('ipAddr'), 'Missing ip address'],
    ['app', without('app'), 'Missing appName'],
    ['dataCenterInfo', without('dataCenterInfo'), 'Missing dataCenterInfo'],
    [
      'dataCenterInfo.name',
      { ...VALID, dataCenterInfo: { '@class': VALID.dataCenterInfo['@class'] } },
      'Missing dataCenterInfo Name',
    ],
    ['hostName', { ...VALID, hostName: '' }, 'Missing hostname'],
    ['ipAddr', { ...VALID, ipAddr: null }, 'Missing ip address'],
  ])('names %s when it is missing, with Eureka’s text', (field, instance, message) => {
    expect(register(instance)).toEqual({ code: 'missing_field', field, message });
  });

  it('reports Missing instanceId when neither an instanceId nor a host name is there, as Eureka checks the id first', () => {
    const instance: Record<string, unknown> = { ...without('hostName') };
    delete instance['instanceId'];
    expect(register(instance)).toEqual({ code: 'missing_field', field: 'instanceId', message: 'Missing instanceId' });
  });

  it('rejects a body app that differs from the path app, naming both upper-cased', () => {
    expect(register({ ...VALID, app: 'other' }, 'svc')).toEqual({
      code: 'app_mismatch',
      field: 'app',
      message: 'Mismatched appName, expecting SVC but was OTHER',
    });
  });

  it('checks the app before the data center, in Eureka’s order', () => {
    expect(register({ ...without('dataCenterInfo'), app: 'other' }).code).toBe('app_mismatch');
  });

  it('skips the app comparison when no path app is given', () => {
    expect(parseInstance(JSON.stringify({ instance: { ...VALID, app: 'other' } }), 'application/json').ok).toBe(true);
  });

  it.each([
    ['status', { ...VALID, status: 'RUNNING' }, 'Invalid status RUNNING'],
    ['overriddenStatus', { ...VALID, overriddenStatus: 'MAYBE' }, 'Invalid overriddenStatus MAYBE'],
    ['overriddenStatus', { ...VALID, overriddenstatus: 'MAYBE' }, 'Invalid overriddenStatus MAYBE'],
    ['dataCenterInfo.name', { ...VALID, dataCenterInfo: { name: 'Azure' } }, 'Invalid dataCenterInfo name Azure'],
  ])('rejects an invalid %s value', (field, instance, message) => {
    expect(register(instance)).toEqual({ code: 'invalid_field', field, message });
  });

  it('names the field in XML bodies too', () => {
    const xml =
      '<instance><app>SVC</app><hostName>h</hostName><dataCenterInfo><name>MyOwn</name></dataCenterInfo></instance>';
    expect(expectError(parseInstance(xml, 'application/xml', 'SVC'))).toEqual({
      code: 'missing_field',
      field: 'ipAddr',
      message: 'Missing ip address',
    });
    const badStatus = xml.replace('<app>', '<ipAddr>1.2.3.4</ipAddr><status>SLEEPING</status><app>');
    expect(expectError(parseInstance(badStatus, 'application/xml', 'SVC'))).toMatchObject({
      code: 'invalid_field',
      field: 'status',
    });
  });
});

describe('malformed bodies', () => {
  it.each([
    ['truncated JSON', '{"instance":{"app":"SVC"', 'application/json'],
    ['empty body', '', 'application/json'],
    ['a JSON array', '[]', 'application/json'],
    ['a JSON string', '"instance"', 'application/json'],
    ['instance set to null', '{"instance":null}', 'application/json'],
    ['an unrelated object', '{"hello":"world"}', 'application/json'],
    ['unclosed XML', '<instance><app>SVC</app>', 'application/xml'],
    ['mismatched XML tags', '<instance><app>SVC</ipAddr></instance>', 'application/xml'],
    ['XML with another root', '<application><name>SVC</name></application>', 'application/xml'],
    ['two XML roots', '<instance></instance><instance></instance>', 'application/xml'],
    ['text that is not XML', 'hello', 'application/xml'],
    ['a DOCTYPE with entities', '<!DOCTYPE instance [<!ENTITY x "y">]><instance>&x;</instance>', 'application/xml'],
  ])('answers %s with malformed_body instead of throwing', (_name, text, contentType) => {
    const error = expectError(parseInstance(text, contentType, 'SVC'));
    expect(error.code).toBe('malformed_body');
    expect(error.field).toBeUndefined();
    expect(error.message).toMatch(/^Malformed (JSON|XML) body/);
  });

  it('says where an XML body breaks', () => {
    const error = expectError(parseInstance('<instance>\n<app>SVC</ipAddr>\n</instance>', 'application/xml', 'SVC'));
    expect(error.message).toContain('line 2');
  });
});
