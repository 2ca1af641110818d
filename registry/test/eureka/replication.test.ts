import { describe, expect, it } from 'vitest';
import {
  parseInstance,
  parseReplicationBatch,
  renderInstance,
  renderReplicationBatch,
  renderReplicationResponse,
} from '../../src/eureka/index.ts';
import type { ReplicationItem, WireResult } from '../../src/eureka/index.ts';
import { SPRING_INSTANCE_AS_SERVED_JSON, SPRING_REGISTRATION_JSON } from './fixtures.ts';

const NOW = 1_700_000_000_000;

function value<T>(result: WireResult<T>): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const instance = value(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE', { now: NOW }));
// Peers embed the instance as their JSON codec writes it: the server format, without the "instance" wrapper.
const servedInstance = (JSON.parse(SPRING_INSTANCE_AS_SERVED_JSON) as { instance: unknown }).instance;

/** A batch shaped like ReplicationTaskProcessor.createReplicationInstanceOf builds it (NON_NULL Jackson output). */
const PEER_BATCH = JSON.stringify({
  replicationList: [
    {
      appName: 'WEBSERVICE',
      id: 'host.docker.internal:webservice:8082',
      lastDirtyTimestamp: 1630906182808,
      overriddenStatus: 'UNKNOWN',
      status: 'UP',
      instanceInfo: servedInstance,
      action: 'Register',
    },
    {
      appName: 'WEBSERVICE',
      id: 'host.docker.internal:webservice:8082',
      lastDirtyTimestamp: 1630906182808,
      overriddenStatus: 'UNKNOWN',
      status: 'UP',
      action: 'Heartbeat',
    },
    {
      appName: 'WEBSERVICE',
      id: 'host.docker.internal:webservice:8082',
      lastDirtyTimestamp: 1630906190000,
      status: 'OUT_OF_SERVICE',
      action: 'StatusUpdate',
    },
    { appName: 'webservice', id: 'host.docker.internal:webservice:8082', action: 'Cancel' },
  ],
});

describe('parseReplicationBatch', () => {
  const items = value(parseReplicationBatch(PEER_BATCH, { now: NOW }));

  it('reads every item of a peer batch in order', () => {
    expect(items.map((item) => (item.ok ? item.value.action : item.error.message))).toEqual([
      'Register',
      'Heartbeat',
      'StatusUpdate',
      'Cancel',
    ]);
  });

  it('parses the registered instance like a registration', () => {
    expect(items[0]).toEqual({
      ok: true,
      value: {
        action: 'Register',
        appName: 'WEBSERVICE',
        id: 'host.docker.internal:webservice:8082',
        lastDirtyTimestamp: 1630906182808,
        overriddenStatus: 'UNKNOWN',
        status: 'UP',
        instanceInfo: instance,
      },
    });
  });

  it('keeps heartbeat, status and cancel fields and upper-cases the app', () => {
    expect(items[1]).toEqual({
      ok: true,
      value: {
        action: 'Heartbeat',
        appName: 'WEBSERVICE',
        id: 'host.docker.internal:webservice:8082',
        lastDirtyTimestamp: 1630906182808,
        overriddenStatus: 'UNKNOWN',
        status: 'UP',
      },
    });
    expect(items[2]).toMatchObject({
      ok: true,
      value: { status: 'OUT_OF_SERVICE', lastDirtyTimestamp: 1630906190000 },
    });
    expect(items[3]).toEqual({
      ok: true,
      value: { action: 'Cancel', appName: 'WEBSERVICE', id: 'host.docker.internal:webservice:8082' },
    });
  });

  it('answers bad items one by one and keeps the good ones', () => {
    const batch = JSON.stringify({
      replicationList: [
        { appName: 'A', id: '1', action: 'Explode' },
        { id: '1', action: 'Cancel' },
        { appName: 'A', id: '1' },
        { appName: 'A', id: '1', action: 'Register' },
        { appName: 'A', id: '1', action: 'Register', instanceInfo: { ...(servedInstance as object) } },
        { appName: 'A', id: '1', action: 'StatusUpdate', status: 'SIDEWAYS' },
        { appName: 'A', action: 'Heartbeat' },
        'not an object',
        { appName: 'A', id: '1', action: 'heartbeat' },
      ],
    });
    const results = value(parseReplicationBatch(batch));
    expect(results.map((item) => (item.ok ? 'ok' : `${item.error.code}:${item.error.field ?? ''}`))).toEqual([
      'invalid_field:action',
      'missing_field:appName',
      'missing_field:action',
      'missing_field:instanceInfo',
      'app_mismatch:app',
      'invalid_field:status',
      'missing_field:id',
      'malformed_body:',
      'ok',
    ]);
  });

  it.each([
    ['not JSON', '{"replicationList":['],
    ['no list', '{}'],
    ['a null list', '{"replicationList":null}'],
    ['an array body', '[]'],
  ])('rejects a body that is %s', (_name, body) => {
    const result = parseReplicationBatch(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('malformed_body');
  });
});

describe('renderReplicationResponse', () => {
  it('writes statusCode per item and the bare instance as responseEntity when given', () => {
    const json = renderReplicationResponse([
      { statusCode: 200 },
      { statusCode: 409, responseEntity: instance },
      { statusCode: 404 },
    ]);
    const entity = renderInstance(instance, { format: 'json' }).slice('{"instance":'.length, -1);
    expect(json).toBe(
      `{"responseList":[{"statusCode":200},{"statusCode":409,"responseEntity":${entity}},{"statusCode":404}]}`,
    );
  });

  it('writes an empty list for an empty batch', () => {
    expect(renderReplicationResponse([])).toBe('{"responseList":[]}');
  });
});

describe('renderReplicationBatch', () => {
  it('writes ReplicationInstance fields in Eureka’s order, leaving out absent ones', () => {
    const cancel: ReplicationItem = { action: 'Cancel', appName: 'WEBSERVICE', id: 'x' };
    expect(renderReplicationBatch([cancel])).toBe(
      '{"replicationList":[{"appName":"WEBSERVICE","id":"x","action":"Cancel"}]}',
    );
  });

  it('round-trips through parseReplicationBatch', () => {
    const items = value(parseReplicationBatch(PEER_BATCH, { now: NOW })).map((item) => value(item));
    const again = value(parseReplicationBatch(renderReplicationBatch(items), { now: NOW })).map((item) => value(item));
    expect(again).toEqual(items);
    expect(JSON.parse(renderReplicationBatch(items))).toEqual(
      JSON.parse(PEER_BATCH.replace('"appName":"webservice"', '"appName":"WEBSERVICE"')),
    );
  });
});
