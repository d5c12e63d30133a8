import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Etcd3, EtcdLeaseInvalidError, GRPCDeadlineExceededError } from 'etcd3';
import type { IKeyValue, IOptions, ITxnResponse, Lease, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { NodeId, Term } from './types';

/*
 * The etcd fallback lease (DESIGN.md, Election). The booking master also holds the key
 * /marquee/booking/<group>/master, attached to a short etcd lease; the key's mod revision is the
 * fencing token. A newer bully term takes the key over by transaction at once: the lease is never
 * on the failover's critical path. This file is the shell that talks to etcd (EtcdLease) plus the pure rule that says
 * what a node may do given the bully core's view and the lease's (decideWithLease). It decides
 * nothing on its own: the election runner asks, then serves, stands by, campaigns or resigns.
 * The modes and what each guarantees are written down in election/README.md ("etcd fallback lease").
 */

// ---------------------------------------------------------------------------------------------------
// The decision rule (pure).

/** Who holds the master key, as read from etcd. */
export interface LeaseHolder {
  readonly nodeId: NodeId;
  /** The bully term the holder campaigned with: a newer term takes the key over at once. */
  readonly term: Term;
  /**
   * Fencing token: the key's mod revision, i.e. the etcd revision of the put that began this tenure.
   * The value is written once per tenure (a newer term is a new tenure, with a new put), so the token
   * is constant while one node holds the key in one term, and strictly greater for every later tenure
   * because etcd revisions are global and only grow. The create revision cannot serve: a takeover
   * replaces the value of a live key, which keeps its create revision. etcd revisions are int64; a JS
   * number holds them exactly up to 2^53, which one etcd cluster does not reach.
   */
  readonly revision: number;
}

/**
 * May a bully master in `term` replace the stored holder without waiting for its lease to expire?
 * Yes when the stored term is older (a majority has since accepted a newer one, so the stored holder
 * is deposed: replicas reject its entries), or when the key is this node's own in this same term (a
 * previous incarnation of it, or a tenure it gave up on its own clock). Never when the stored term is
 * newer, nor another node's in the same term (one master per term: that cannot happen, and if it did
 * the key must not flip between them).
 */
export function mayTakeOver(stored: LeaseHolder, nodeId: NodeId, term: Term): boolean {
  return stored.term < term || (stored.term === term && stored.nodeId === nodeId);
}

/**
 * - `rule` "lease-decides" (the rule, default): the lease holder keeps leadership while the
 *   bully protocol has no quorum; only a bully master WITH quorum may acquire it.
 * - `rule` "quorum-and-lease" (stricter): with etcd reachable, serving needs both.
 */
export type LeaseRule = 'lease-decides' | 'quorum-and-lease';

/**
 * - serve: act as master (the catch-up gate, majority acks and term fencing still apply).
 * - campaign: try to acquire (or, when held, refresh) the lease; do not serve until it is held.
 * - stand-by: do not serve; if this node holds the lease, resign it.
 */
export type LeaseDecision = 'serve' | 'stand-by' | 'campaign';

export interface LeaseDecisionInput {
  /** Mode 1 when false: bully + quorum only. */
  readonly etcdConfigured: boolean;
  /** An etcd call succeeded within the last TTL (EtcdLease.etcdReachable()); mode 3 when false. */
  readonly etcdReachable: boolean;
  /**
   * The bully core says this node may serve writes (BullyNode.canServeWrites(): elected by a
   * majority in its term, caught up, heartbeat quorum current).
   */
  readonly bullyHasQuorum: boolean;
  /**
   * The bully core's term is higher than the term this node holds the lease with: someone newer was
   * elected (or this node was, in a newer term). Ignored when the node holds no lease.
   */
  readonly newerTermSeen: boolean;
  /** EtcdLease.isHeld(): this node's lease is valid by its own monotonic clock. */
  readonly leaseHeldBySelf: boolean;
  /**
   * The holder last read from etcd (EtcdLease.holder()), consulted only when the node does not hold
   * the lease itself.
   */
  readonly leaseHolder: LeaseHolder | undefined;
  /** This node's id and its bully core's current term: a stored holder from an older term is deposed. */
  readonly nodeId: NodeId;
  readonly term: Term;
  readonly rule?: LeaseRule;
}

/**
 * What this node may do. Modes:
 * 1. etcd not configured — bully + quorum only: serve iff bullyHasQuorum.
 * 2. etcd configured and reachable — nobody serves without holding the lease. Only a bully master
 *    with quorum acquires it: a free key at once, and a key held in an older term (or left by this
 *    node in its own term) at once too, by a transaction that replaces it (mayTakeOver) — never by
 *    waiting out the old holder's TTL. A holder that saw a newer term stands by (resigns) unless it is
 *    the new master. A holder without quorum keeps serving under "lease-decides", stands by under
 *    "quorum-and-lease".
 * 3. etcd configured but unreachable from this node — the lease is ignored: serve iff
 *    bullyHasQuorum. Writes are never blocked only because etcd is down.
 */
export function decideWithLease(input: LeaseDecisionInput): LeaseDecision {
  const rule = input.rule ?? 'lease-decides';
  if (!input.etcdConfigured || !input.etcdReachable) return input.bullyHasQuorum ? 'serve' : 'stand-by';
  if (input.leaseHeldBySelf) {
    if (input.newerTermSeen) return input.bullyHasQuorum ? 'campaign' : 'stand-by';
    if (input.bullyHasQuorum) return 'serve';
    return rule === 'lease-decides' ? 'serve' : 'stand-by';
  }
  if (!input.bullyHasQuorum) return 'stand-by';
  // Held by a node of the same or a newer term: it is the master (or will learn it is not from its
  // own quorum); wait for it to resign or expire.
  if (input.leaseHolder !== undefined && !mayTakeOver(input.leaseHolder, input.nodeId, input.term)) {
    return 'stand-by';
  }
  return 'campaign';
}

// ---------------------------------------------------------------------------------------------------
// The etcd client shell.

export type EtcdLeaseErrorCode = 'unavailable' | 'malformed' | 'closed' | 'misuse';

/** Every EtcdLease failure: a clear message naming etcd, the endpoint and the operation. */
export class EtcdLeaseError extends Error {
  constructor(
    readonly code: EtcdLeaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EtcdLeaseError';
  }
}

/**
 * Why a held lease ended without resign():
 * - expired: etcd said the lease is gone, or no renewal was acknowledged before the local deadline
 *   (etcd down, paused, or this process paused);
 * - key-deleted / key-replaced: the key was deleted or recreated by someone else (operator, bug).
 */
export type LeaseLossReason = 'expired' | 'key-deleted' | 'key-replaced';

export interface LeaseLoss {
  readonly reason: LeaseLossReason;
  /** The fencing token of the tenure that ended. */
  readonly revision: number;
  readonly message: string;
  readonly error?: Error;
}

export type CampaignResult =
  | { readonly acquired: true; readonly holder: LeaseHolder }
  | { readonly acquired: false; readonly holder: LeaseHolder };

export interface EtcdLeaseOptions {
  /** etcd client URLs, e.g. http://127.0.0.1:2379. */
  readonly endpoints: string | readonly string[];
  /** Booking group name: the key is /marquee/booking/<group>/master. */
  readonly group: string;
  /** Lease TTL in whole seconds (etcd's unit). Default 2. */
  readonly ttlSeconds?: number;
  /** Bound on every etcd call. Default 1000 ms. Renewals use min(this, TTL / 3). */
  readonly callTimeoutMs?: number;
  /**
   * Subtracted from the local validity of the lease, for clock-rate difference between this process
   * and etcd. Default TTL / 10.
   */
  readonly marginMs?: number;
  readonly logger?: Logger;
  /** Monotonic milliseconds; performance.now by default (wall-clock jumps must not extend a lease). */
  readonly now?: () => number;
}

interface Tenure {
  readonly lease: Lease;
  readonly leaseId: string;
  holder: LeaseHolder;
  /** Local deadline: renewal send time + TTL − margin. Never later than etcd's own expiry. */
  validUntil: number;
  renewTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
  watcher?: Watcher;
}

type FaultPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * One attempt per call: no retries (the runner's next tick is the retry, and a retry inside a
 * bounded call only eats its budget), no circuit breaker (the default one fails calls fast for 5 s
 * after three errors, which alone would cost a 2 s lease after a short etcd blip).
 */
const singleAttempt: FaultPolicy = {
  _altReturn: undefined as never,
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
  execute: async (fn) => fn({ signal: new AbortController().signal }),
};

/**
 * The master key in etcd. campaign() is one attempt (create-if-absent, or take over a deposed term's
 * key, each in a transaction), never a loop: the caller retries on its own schedule. While held, the lease is renewed every TTL/3; the
 * tenure ends with a 'lost' event (never with a throw) when etcd says the lease is gone, when the key
 * is deleted or taken over (seen by the watch or by the check after each renewal), or when the local deadline passes without an acknowledged renewal.
 * isHeld() re-checks that deadline synchronously, so a process that was paused past its lease learns
 * it before its timers run. Every call is bounded by a timeout and rejects with EtcdLeaseError.
 */
export class EtcdLease {
  readonly key: string;
  private readonly events = new EventEmitter();
  private readonly client: Etcd3;
  private readonly endpoints: string;
  private readonly ttlMs: number;
  private readonly ttlSeconds: number;
  private readonly callTimeoutMs: number;
  private readonly renewTimeoutMs: number;
  private readonly marginMs: number;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private tenure: Tenure | undefined;
  private inFlight: { nodeId: NodeId; term: Term; result: Promise<CampaignResult> } | undefined;
  private lastContact: { ok: boolean; at: number } | undefined;
  private closed = false;

  constructor(options: EtcdLeaseOptions) {
    this.ttlSeconds = options.ttlSeconds ?? 2;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) {
      throw new EtcdLeaseError('misuse', `ttlSeconds must be a whole number ≥ 1, got ${this.ttlSeconds}`);
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(options.group)) {
      throw new EtcdLeaseError(
        'misuse',
        `group must match [A-Za-z0-9_.-]+, got ${JSON.stringify(options.group)}`,
      );
    }
    this.ttlMs = this.ttlSeconds * 1000;
    this.callTimeoutMs = options.callTimeoutMs ?? 1000;
    this.renewTimeoutMs = Math.min(this.callTimeoutMs, this.ttlMs / 3);
    this.marginMs = options.marginMs ?? this.ttlMs / 10;
    if (this.marginMs < 0 || this.marginMs >= this.ttlMs) {
      throw new EtcdLeaseError('misuse', `marginMs must be in [0, TTL), got ${this.marginMs}`);
    }
    this.logger = options.logger;
    this.now = options.now ?? (() => performance.now());
    this.key = `/marquee/booking/${options.group}/master`;
    const hosts = typeof options.endpoints === 'string' ? [options.endpoints] : [...options.endpoints];
    this.endpoints = hosts.join(',');
    this.client = new Etcd3({
      hosts,
      // etcd3 1.1.2 declares dialTimeout but never reads it: the per-call deadline below (and the
      // race in call()) is what bounds a dial to an etcd that is down or stopped.
      dialTimeout: this.callTimeoutMs,
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs },
      faultHandling: { global: singleAttempt, host: () => singleAttempt },
      // Reconnect quickly once etcd is back, instead of gRPC's default backoff of up to 2 minutes.
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
    });
  }

  /** One attempt to become (or, with a newer term, stay) the holder. See CampaignResult. */
  campaign(nodeId: NodeId, term: Term): Promise<CampaignResult> {
    if (!Number.isSafeInteger(nodeId) || nodeId < 1 || !Number.isSafeInteger(term) || term < 0) {
      return Promise.reject(
        new EtcdLeaseError('misuse', `campaign(${nodeId}, ${term}): bad node id or term`),
      );
    }
    // A tick loop may ask again before etcd answered: the same question shares the pending answer.
    if (this.inFlight) {
      if (this.inFlight.nodeId === nodeId && this.inFlight.term === term) return this.inFlight.result;
      return Promise.reject(
        new EtcdLeaseError(
          'misuse',
          `campaign(${nodeId}, ${term}) while campaign(${this.inFlight.nodeId}, ${this.inFlight.term}) is pending`,
        ),
      );
    }
    const result = this.campaignOnce(nodeId, term).finally(() => {
      if (this.inFlight?.result === result) this.inFlight = undefined;
    });
    this.inFlight = { nodeId, term, result };
    return result;
  }

  /** True while this node's lease is valid by its own clock (checked now, not at the last timer). */
  isHeld(): boolean {
    const tenure = this.tenure;
    if (!tenure) return false;
    if (this.now() < tenure.validUntil) return true;
    this.lose(tenure, 'expired', `no renewal acknowledged by etcd at ${this.endpoints} within the lease TTL`);
    return false;
  }

  /** The tenure this process holds, if isHeld(). */
  held(): LeaseHolder | undefined {
    return this.isHeld() ? this.tenure?.holder : undefined;
  }

  /** An etcd call succeeded and none has failed since, within the last TTL. */
  etcdReachable(): boolean {
    return (
      this.lastContact !== undefined && this.lastContact.ok && this.now() - this.lastContact.at <= this.ttlMs
    );
  }

  /** The current holder as etcd sees it, undefined when the key is absent. Rejects when etcd is not reachable. */
  async holder(): Promise<LeaseHolder | undefined> {
    const response = await this.call('read the master key', () => this.client.get(this.key).exec());
    const kv = response.kvs[0];
    return kv ? this.parse(kv) : undefined;
  }

  /**
   * Writes `key` only if this node's tenure is still the current one: one etcd transaction that
   * compares the master key's mod revision with the fencing token. A deposed holder (taken over by a
   * newer term, even while its own lease is still alive) gets false, and nothing is written. This is
   * how a side effect kept in etcd is fenced; the booking group fences its writes by term instead.
   */
  async putFenced(key: string, value: string): Promise<boolean> {
    const tenure = this.tenure;
    if (!tenure) return false;
    const response = await this.call('write under the fencing token', () =>
      this.client
        .if(this.key, 'Mod', '==', tenure.holder.revision)
        .then(this.client.put(key).value(value))
        .commit(),
    );
    return response.succeeded;
  }

  /**
   * Gives the lease up: this process stops being the holder at once (before the network call), then
   * revokes the lease, which deletes the key so that another campaigner can take over immediately.
   * If etcd is unreachable it rejects; the key then expires within one TTL. No 'lost' event.
   */
  async resign(): Promise<void> {
    const tenure = this.tenure;
    if (!tenure) return;
    this.endTenure(tenure);
    await this.call('revoke the lease (resign)', () =>
      tenure.lease.revoke({ deadline: Date.now() + this.callTimeoutMs }),
    );
  }

  /**
   * Closes the client WITHOUT resigning (the key then expires after the TTL, as if this process had
   * crashed). A graceful shutdown calls resign() first.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tenure) this.endTenure(this.tenure);
    this.client.close();
  }

  /** 'lost': the tenure ended without resign(); stop serving at once. */
  on(event: 'lost', listener: (loss: LeaseLoss) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'lost', listener: (loss: LeaseLoss) => void): this {
    this.events.off(event, listener);
    return this;
  }

  // -------------------------------------------------------------------------------------------------

  private async campaignOnce(nodeId: NodeId, term: Term): Promise<CampaignResult> {
    const current = this.tenure;
    if (current && this.isHeld()) {
      if (current.holder.nodeId !== nodeId) {
        throw new EtcdLeaseError(
          'misuse',
          `campaign as node ${nodeId} while holding the lease as node ${current.holder.nodeId}`,
        );
      }
      if (current.holder.term === term) return { acquired: true, holder: current.holder };
      return this.rewriteTerm(current, term);
    }
    // Measured before the grant is sent: etcd starts the TTL when it receives the grant, later.
    const sentAt = this.now();
    const lease = this.client.lease(this.ttlSeconds, {
      autoKeepAlive: false,
      deadline: Date.now() + this.callTimeoutMs,
    });
    // etcd3 emits 'lost' when the grant fails; the rejection of grant() below already reports it.
    lease.on('lost', () => undefined);
    const leaseId = await this.call('grant a lease', () => lease.grant());
    const value = JSON.stringify({ nodeId, term });
    let response: ITxnResponse;
    try {
      response = await this.putIf('create the master key', 'Create', 0, value, leaseId);
      const stored = this.storedHolder(response);
      // The key is held, by a deposed term (or by this node in this term): replace it now, guarded by
      // the mod revision just read, so that a newer holder that got in between is never overwritten.
      if (stored && mayTakeOver(stored, nodeId, term)) {
        response = await this.putIf('take over the master key', 'Mod', stored.revision, value, leaseId);
        if (response.succeeded) this.logger?.info({ key: this.key, from: stored }, 'etcd lease taken over');
      }
    } catch (error) {
      // Whether the key was written is unknown; the lease is never renewed, so it expires either way.
      this.revokeQuietly(lease, 'after a failed campaign');
      throw error;
    }
    if (!response.succeeded) {
      this.revokeQuietly(lease, 'after a lost campaign');
      const stored = this.storedHolder(response);
      if (!stored) return this.missingKey();
      return { acquired: false, holder: stored };
    }
    const holder: LeaseHolder = { nodeId, term, revision: Number(response.header.revision) };
    if (this.closed) {
      this.revokeQuietly(lease, 'after close()');
      throw new EtcdLeaseError('closed', 'EtcdLease was closed during campaign()');
    }
    const tenure: Tenure = { lease, leaseId, holder, validUntil: sentAt + this.ttlMs - this.marginMs };
    this.tenure = tenure;
    this.logger?.info({ key: this.key, ...holder }, 'etcd lease acquired');
    this.armExpiry(tenure);
    this.scheduleRenewal(tenure);
    this.watchKey(tenure);
    return { acquired: true, holder };
  }

  /**
   * Same lease, newer term: a new tenure with a new fencing token (the revision of this put), so
   * that whatever was fenced with the old term's token is refused from now on.
   */
  private async rewriteTerm(tenure: Tenure, term: Term): Promise<CampaignResult> {
    const value = JSON.stringify({ nodeId: tenure.holder.nodeId, term });
    const response = await this.putIf(
      'update the master key',
      'Mod',
      tenure.holder.revision,
      value,
      tenure.leaseId,
    );
    if (response.succeeded) {
      // The tenure may have ended (local deadline, watch) while the update was on the wire.
      if (this.tenure !== tenure) {
        throw new EtcdLeaseError(
          'unavailable',
          `etcd at ${this.endpoints}: the lease was lost while updating the term`,
        );
      }
      tenure.holder = { ...tenure.holder, term, revision: Number(response.header.revision) };
      return { acquired: true, holder: tenure.holder };
    }
    const stored = this.storedHolder(response);
    this.lose(tenure, stored ? 'key-replaced' : 'key-deleted', `${this.key} is no longer this tenure's key`);
    // One fresh attempt (bounded: the tenure is gone, so this cannot come back here).
    if (!stored || mayTakeOver(stored, tenure.holder.nodeId, term)) {
      return this.campaignOnce(tenure.holder.nodeId, term);
    }
    return { acquired: false, holder: stored };
  }

  /** One transaction: put the key under `leaseId` if its `target` revision equals `revision`, else read it. */
  private putIf(
    what: string,
    target: 'Create' | 'Mod',
    revision: number,
    value: string,
    leaseId: string,
  ): Promise<ITxnResponse> {
    return this.call(what, () =>
      this.client
        .if(this.key, target, '==', revision)
        .then(this.client.put(this.key).value(value).lease(leaseId))
        .else(this.client.get(this.key))
        .commit(),
    );
  }

  /** The holder read by a failed putIf (its else branch); undefined when the key is absent. */
  private storedHolder(response: ITxnResponse): LeaseHolder | undefined {
    if (response.succeeded) return undefined;
    const kv = response.responses[0]?.response_range?.kvs[0];
    return kv ? this.parse(kv) : undefined;
  }

  private missingKey(): never {
    // The key was deleted between our compare and our read: the next attempt finds it free.
    throw new EtcdLeaseError(
      'unavailable',
      `etcd at ${this.endpoints}: ${this.key} changed during the campaign`,
    );
  }

  private scheduleRenewal(tenure: Tenure): void {
    tenure.renewTimer = setTimeout(() => void this.renew(tenure), this.ttlMs / 3);
    tenure.renewTimer.unref();
  }

  private async renew(tenure: Tenure): Promise<void> {
    if (this.tenure !== tenure) return;
    const sentAt = this.now();
    try {
      const response = await this.call(
        'renew the lease',
        () => tenure.lease.keepaliveOnce({ deadline: Date.now() + this.renewTimeoutMs }),
        this.renewTimeoutMs,
      );
      if (this.tenure !== tenure) return;
      const ttlSeconds = Number(response.TTL);
      if (!(ttlSeconds > 0)) {
        this.lose(tenure, 'expired', `etcd at ${this.endpoints} says the lease has expired`);
        return;
      }
      // etcd renewed the lease: extend the deadline now, so that a slow check below (a loaded
      // machine) does not let it pass and end a tenure etcd still honours.
      tenure.validUntil = Math.max(tenure.validUntil, sentAt + ttlSeconds * 1000 - this.marginMs);
      this.armExpiry(tenure);
      // The lease lives on after a takeover (nobody revoked it): a renewal alone proves nothing. The
      // key must still be this lease's, or the tenure is over — the watch usually says so first.
      const kv = (
        await this.call('check the master key', () => this.client.get(this.key).exec(), this.renewTimeoutMs)
      ).kvs[0];
      if (this.tenure !== tenure) return;
      if (!kv || kv.lease !== tenure.leaseId) {
        this.lose(tenure, kv ? 'key-replaced' : 'key-deleted', `${this.key} is no longer this tenure's key`);
        return;
      }
    } catch (error) {
      if (this.tenure !== tenure) return;
      if (error instanceof EtcdLeaseInvalidError) {
        this.lose(tenure, 'expired', `etcd at ${this.endpoints} says the lease has expired`, error);
        return;
      }
      // Not lost yet: etcd cannot have expired the lease before the local deadline, and the next
      // renewal may get through. The expiry timer ends the tenure if none does.
      this.logger?.warn({ key: this.key, err: error }, 'etcd lease renewal failed');
    }
    // isHeld() also ends a tenure whose deadline passed while this renewal was pending.
    if (this.tenure === tenure && this.isHeld()) this.scheduleRenewal(tenure);
  }

  private armExpiry(tenure: Tenure): void {
    if (tenure.expiryTimer) clearTimeout(tenure.expiryTimer);
    // A timer may fire a little before the monotonic clock reaches the deadline: then re-arm, or
    // nothing would ever end a tenure whose renewals keep failing.
    tenure.expiryTimer = setTimeout(
      () => {
        if (this.tenure === tenure && this.isHeld()) this.armExpiry(tenure);
      },
      Math.max(0, Math.ceil(tenure.validUntil - this.now())) + 1,
    );
    tenure.expiryTimer.unref();
  }

  /**
   * Ends the tenure early if the key is deleted or recreated behind this holder's back. Attached
   * synchronously (watcher(), not create()): the tenure owns the watcher from the start, so ending
   * the tenure always cancels it. A watcher still pending when the client closes would otherwise
   * stay in etcd3's reconnect loop forever and keep the process alive.
   */
  private watchKey(tenure: Tenure): void {
    const watcher = this.client
      .watch()
      .key(this.key)
      // From just after our put: a delete or takeover between the put and the watch is not missed.
      .startRevision(String(tenure.holder.revision + 1))
      .watcher();
    tenure.watcher = watcher;
    // Reconnects are etcd3's job; the renewal ends the tenure if etcd stays away. Listening to
    // 'error' also keeps an unlistened EventEmitter 'error' from throwing.
    watcher.on('error', (error) => this.logger?.warn({ key: this.key, err: error }, 'etcd watch error'));
    watcher.on('delete', () => this.lose(tenure, 'key-deleted', `${this.key} was deleted`));
    // Our own term rewrites keep our lease; a takeover (or anyone else's put) brings another one.
    watcher.on('put', (kv) => {
      if (kv.lease !== tenure.leaseId) {
        this.lose(tenure, 'key-replaced', `${this.key} was taken over at revision ${kv.mod_revision}`);
      }
    });
  }

  private lose(tenure: Tenure, reason: LeaseLossReason, message: string, error?: Error): void {
    if (this.tenure !== tenure) return;
    this.endTenure(tenure);
    // etcd may still honour a lease this process gave up on its own clock: free the key early.
    this.revokeQuietly(tenure.lease, 'after losing it');
    const loss: LeaseLoss = { reason, revision: tenure.holder.revision, message, error };
    this.logger?.warn({ key: this.key, ...loss }, 'etcd lease lost');
    try {
      this.events.emit('lost', loss);
    } catch (listenerError) {
      // A throwing listener must not break the timer or stream callback that noticed the loss.
      this.logger?.error({ err: listenerError }, "an etcd lease 'lost' listener threw");
    }
  }

  private endTenure(tenure: Tenure): void {
    if (this.tenure === tenure) this.tenure = undefined;
    if (tenure.renewTimer) clearTimeout(tenure.renewTimer);
    if (tenure.expiryTimer) clearTimeout(tenure.expiryTimer);
    if (tenure.watcher) this.cancelQuietly(tenure.watcher);
    tenure.lease.release();
  }

  private revokeQuietly(lease: Lease, when: string): void {
    if (this.closed) return;
    this.call(`revoke the lease ${when}`, () =>
      lease.revoke({ deadline: Date.now() + this.callTimeoutMs }),
    ).catch((error: unknown) =>
      this.logger?.debug({ key: this.key, err: error }, 'etcd lease revoke failed; it will expire'),
    );
  }

  private cancelQuietly(watcher: Watcher): void {
    watcher
      .cancel()
      .catch((error: unknown) => this.logger?.debug({ err: error }, 'etcd watch cancel failed'));
  }

  private parse(kv: IKeyValue): LeaseHolder {
    const text = kv.value.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const candidate = parsed as { nodeId?: unknown; term?: unknown } | undefined;
    if (typeof candidate?.nodeId !== 'number' || typeof candidate.term !== 'number') {
      throw new EtcdLeaseError(
        'malformed',
        `etcd at ${this.endpoints}: ${this.key} holds ${JSON.stringify(text)}, not {nodeId, term}`,
      );
    }
    return { nodeId: candidate.nodeId, term: candidate.term, revision: Number(kv.mod_revision) };
  }

  /**
   * Runs one etcd call, bounded by `timeoutMs`; every failure becomes an EtcdLeaseError. The call
   * carries a gRPC deadline of `timeoutMs`; the local timer is only a backstop (a little later, so
   * that the deadline, which also cancels the RPC, normally fires first).
   */
  private async call<T>(what: string, start: () => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    if (this.closed) {
      throw new EtcdLeaseError('closed', `etcd at ${this.endpoints}: cannot ${what}: EtcdLease is closed`);
    }
    const timedOut = (): EtcdLeaseError =>
      new EtcdLeaseError('unavailable', `etcd at ${this.endpoints}: ${what} timed out after ${timeoutMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut()), timeoutMs + 100);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(start), backstop]);
      this.lastContact = { ok: true, at: this.now() };
      return result;
    } catch (error) {
      // etcd answering "no such lease" is an answer: it is reachable.
      if (error instanceof EtcdLeaseInvalidError) {
        this.lastContact = { ok: true, at: this.now() };
        throw error;
      }
      this.lastContact = { ok: false, at: this.now() };
      if (error instanceof EtcdLeaseError) throw error;
      if (error instanceof GRPCDeadlineExceededError) throw timedOut();
      throw new EtcdLeaseError(
        'unavailable',
        `etcd at ${this.endpoints}: ${what} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
