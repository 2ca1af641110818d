// Peer replication (POST /peerreplication/batch). The body is always JSON: Eureka's ReplicationList and
// ReplicationListResponse are Jackson beans, written by the server's JSON codec with NON_NULL inclusion, so
// absent fields are left out and properties follow the @JsonCreator parameter order.
import { parseInstanceStatus } from './instance.ts';
import type { InstanceInfo, InstanceStatus } from './instance.ts';
import { isJsonObject, jsonInteger, jsonString, readJsonInstance } from './json-read.ts';
import { normalizeInstance } from './normalize.ts';
import { parseJsonText } from './parse.ts';
import type { ParseOptions } from './parse.ts';
import { instanceJson } from './render.ts';
import { fail, ok } from './result.ts';
import { appNameProblem, asciiUpperCase, instanceIdProblem } from './text.ts';
import type { WireResult } from './result.ts';

/** PeerAwareInstanceRegistryImpl.Action. */
export const REPLICATION_ACTIONS = ['Heartbeat', 'Register', 'Cancel', 'StatusUpdate', 'DeleteStatusOverride'] as const;
export type ReplicationAction = (typeof REPLICATION_ACTIONS)[number];

/** One ReplicationInstance. Eureka's sender omits everything but appName, id and action for a Cancel. */
export interface ReplicationItem {
  readonly action: ReplicationAction;
  /** Upper-cased, as ApplicationResource does with the app it is given. */
  readonly appName: string;
  readonly id: string;
  readonly lastDirtyTimestamp?: number;
  readonly overriddenStatus?: InstanceStatus;
  readonly status?: InstanceStatus;
  /** Validated against appName like a registration; required for Register. */
  readonly instanceInfo?: InstanceInfo;
}

/** One ReplicationInstanceResponse; responseEntity is sent back with a 409 (or 200) heartbeat answer. */
export interface ReplicationResponseItem {
  readonly statusCode: number;
  readonly responseEntity?: InstanceInfo;
}

/**
 * Parses a replication batch. The outer result fails only when the body is not a `{"replicationList":[…]}`;
 * each item then has its own result, so one bad item is answered on its own (Eureka answers an item that
 * throws with statusCode 500 and carries on with the rest).
 * @example
 * const batch = parseReplicationBatch(body);
 * if (!batch.ok) return c.text(batch.error.message, 400);
 * const responses = batch.value.map((item) => (item.ok ? dispatch(item.value) : { statusCode: 400 }));
 */
export function parseReplicationBatch(
  body: string,
  options: ParseOptions = {},
): WireResult<WireResult<ReplicationItem>[]> {
  const now = options.now ?? Date.now();
  const parsed = parseJsonText(body);
  if (!parsed.ok) return parsed;
  const list = isJsonObject(parsed.value) ? parsed.value['replicationList'] : undefined;
  if (!Array.isArray(list)) return fail('malformed_body', 'Malformed JSON body: expected {"replicationList":[…]}');
  return ok((list as unknown[]).map((item) => parseReplicationItem(item, now)));
}

function parseReplicationItem(item: unknown, now: number): WireResult<ReplicationItem> {
  if (!isJsonObject(item)) return fail('malformed_body', 'Malformed replication item: expected an object');
  const actionText = jsonString(item['action']);
  if (actionText === undefined) return fail('missing_field', 'Missing action', 'action');
  const action = REPLICATION_ACTIONS.find((value) => value.toLowerCase() === actionText.trim().toLowerCase());
  if (action === undefined) return fail('invalid_field', `Invalid action ${actionText}`, 'action');
  const appNameText = jsonString(item['appName']);
  if (appNameText === undefined || appNameText === '') return fail('missing_field', 'Missing appName', 'appName');
  const badApp = appNameProblem(appNameText, 'appName');
  if (badApp !== undefined) return fail('invalid_field', badApp, 'appName');
  const appName = asciiUpperCase(appNameText);

  const status = readStatus(item, 'status');
  if (!status.ok) return status;
  const overriddenStatus = readStatus(item, 'overriddenStatus');
  if (!overriddenStatus.ok) return overriddenStatus;

  let instanceInfo: InstanceInfo | undefined;
  const rawInstance = item['instanceInfo'];
  if (isJsonObject(rawInstance)) {
    const result = normalizeInstance(readJsonInstance(rawInstance), { pathApp: appName, now });
    if (result.ok) instanceInfo = result.value;
    // Only Register uses the instance; other actions work from appName/id, so a bad copy is just dropped.
    else if (action === 'Register') return result;
  } else if (action === 'Register') {
    return fail('missing_field', 'Missing instanceInfo', 'instanceInfo');
  }

  const id = jsonString(item['id']) ?? instanceInfo?.instanceId;
  if (id === undefined || id === '') return fail('missing_field', 'Missing id', 'id');
  const badId = instanceIdProblem(id, 'id');
  if (badId !== undefined) return fail('invalid_field', badId, 'id');
  const lastDirtyTimestamp = jsonInteger(item['lastDirtyTimestamp']);

  return ok({
    action,
    appName,
    id,
    ...(lastDirtyTimestamp === undefined ? {} : { lastDirtyTimestamp }),
    ...(overriddenStatus.value === undefined ? {} : { overriddenStatus: overriddenStatus.value }),
    ...(status.value === undefined ? {} : { status: status.value }),
    ...(instanceInfo === undefined ? {} : { instanceInfo }),
  });
}

function readStatus(
  item: Record<string, unknown>,
  field: 'status' | 'overriddenStatus',
): WireResult<InstanceStatus | undefined> {
  const text = jsonString(item[field]);
  if (text === undefined) return ok(undefined);
  const status = parseInstanceStatus(text);
  // Eureka's StatusUpdate would fail on InstanceStatus.valueOf; refuse the item instead of guessing.
  return status === undefined ? fail('invalid_field', `Invalid ${field} ${text}`, field) : ok(status);
}

/** The batch body a Eureka peer expects, for replicating our changes to it. */
export function renderReplicationBatch(items: readonly ReplicationItem[]): string {
  return JSON.stringify({
    replicationList: items.map((item) => ({
      appName: item.appName,
      id: item.id,
      lastDirtyTimestamp: item.lastDirtyTimestamp,
      overriddenStatus: item.overriddenStatus,
      status: item.status,
      instanceInfo: item.instanceInfo === undefined ? undefined : instanceJson(item.instanceInfo),
      action: item.action,
    })),
  });
}

/**
 * The batch answer: `{"responseList":[{"statusCode":200},{"statusCode":409,"responseEntity":{…}}]}`, one entry
 * per item in order; the entity is the bare instance object, without an `instance` wrapper.
 */
export function renderReplicationResponse(responses: readonly ReplicationResponseItem[]): string {
  return JSON.stringify({
    responseList: responses.map((response) => ({
      statusCode: response.statusCode,
      responseEntity: response.responseEntity === undefined ? undefined : instanceJson(response.responseEntity),
    })),
  });
}
