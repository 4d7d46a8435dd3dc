/**
 * The provider's SQLite schema. One database holds every kind of one dataset. Tick columns hold tick keys
 * (see tick-key.ts). Endpoints are interned (`endpoints`) so that resource rows and indexes carry a small integer.
 *
 * resources: live resources and tombstones (deleted = 1, payload = the deletion fragment), one row per uuid;
 *            the row id is the resource's local key (`accounts('42')`). Indexes: uuid (the target's lookup), state
 *            (the source's ranges; also counts rows), and a partial index of tombstones. Every index costs a page
 *            write per applied entry, so there is no index for listing live resources: that walks the rowids.
 * digest:    one row per (kind, endpoint): the vector clock. Updated in the same transaction as the data it
 *            describes, so a crash never leaves a digest ahead of the data.
 * contexts:  asynchronous operations ($syncSource / $syncTarget / $batch), keyed by the consumer's trackingID.
 * results:   per-context result entries (serialised XML), one row per transaction's worth (`count` entries from
 *            position `first`, joined by U+0001, a character XML cannot contain): a row per entry cost more than
 *            building the entry, and DELETE of a context removes a few rows instead of one per entry.
 * staged:    immediate-mode entries held until the whole page has passed the contiguity check.
 * pass_failures: failed entries per (kind, pass), so later pages of the same pass neither move that endpoint's
 *            tick past them nor merge it at the end (docs/protocol.md §3.9 item 4).
 * sync_results / sync_results_chunks: result feeds POSTed to $syncResults, stored as the byte chunks they arrived in.
 */

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoints(id INTEGER PRIMARY KEY, norm TEXT NOT NULL UNIQUE, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kinds(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, self_ep INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS digest(
  kind INTEGER NOT NULL, ep INTEGER NOT NULL, tick TEXT NOT NULL, stamp TEXT NOT NULL, prio INTEGER NOT NULL,
  PRIMARY KEY(kind, ep)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resources(
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  uuid TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  ep INTEGER NOT NULL,
  tick TEXT NOT NULL,
  stamp TEXT NOT NULL,
  user TEXT,
  payload TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS resources_uuid ON resources(kind, uuid);
CREATE INDEX IF NOT EXISTS resources_state ON resources(kind, ep, tick, id);
DROP INDEX IF EXISTS resources_live;
CREATE INDEX IF NOT EXISTS resources_dead ON resources(kind) WHERE deleted = 1;
CREATE TABLE IF NOT EXISTS contexts(
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  type TEXT NOT NULL,
  tracking TEXT NOT NULL,
  tracking_raw TEXT NOT NULL,
  status TEXT NOT NULL,
  created INTEGER NOT NULL,
  touched INTEGER NOT NULL,
  total INTEGER NOT NULL DEFAULT 0,
  info TEXT NOT NULL DEFAULT '{}');
CREATE UNIQUE INDEX IF NOT EXISTS contexts_tracking ON contexts(kind, type, tracking);
DROP TABLE IF EXISTS results;
CREATE TABLE IF NOT EXISTS result_rows(ctx INTEGER NOT NULL, first INTEGER NOT NULL, count INTEGER NOT NULL, xml TEXT NOT NULL, PRIMARY KEY(ctx, first)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS staged(ctx INTEGER NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY(ctx, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pass_failures(kind INTEGER NOT NULL, pass TEXT NOT NULL, ep INTEGER NOT NULL, tick TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS pass_failures_pass ON pass_failures(kind, pass, ep);
CREATE TABLE IF NOT EXISTS sync_results(
  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, run_name TEXT, run_stamp TEXT, received TEXT NOT NULL,
  entries INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sync_results_chunks(result INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(result, seq)) WITHOUT ROWID;
`;
