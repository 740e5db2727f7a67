/**
 * Guards: which lock (or rule) protects a shared field, as data the checker can test.
 *
 * Every field of the schema (src/mm/layout.ts) declares a Guard. SharedArrayBuffer.md renders its
 * text; the checked build (`--check-guards`, src/tools/build_checked.ts and src/locking/guard_check.ts)
 * tests every access to a field whose guard names requirements against what the acting CPU and
 * task hold, as lockdep_assert_held() and rcu_dereference_check() do in the kernel.
 *
 * A requirement list is any-of: one satisfied requirement is enough ({ k: 'all' } nests an all-of
 * set). `read`/`write` null means the rule is not one the checker can decide from held-lock state
 * (write-once, init before publication, atomic words); the KCSAN-style sampler covers those.
 */

/** How a lock must be held: 'write' (rwlock writer, spinlock, mutex), 'read' or 'held' (any mode). */
export type LockMode = 'read' | 'write' | 'held';

/**
 * Where the lock instance is, relative to the object whose field is accessed (the base address of
 * the access): `self` names a lock field of the same record (task_lock(p): p->alloc_lock);
 * `ptr` + `struct` + `field` follow a pointer field first (p->sighand->siglock). Without `at`
 * any lock of the class will do (global locks have one instance).
 */
export interface LockAt {
  readonly self?: string;
  readonly ptr?: string;
  readonly struct?: string;
  readonly field?: string;
}

export type GuardReq =
  | { readonly k: 'lock'; readonly cls: string; readonly mode: LockMode; readonly at?: LockAt }
  /** rcu_read_lock() held (rcu_read_lock_held()). */
  | { readonly k: 'rcu' }
  /** The record is current's own task_struct (or, for per-task data hung off it, current's). */
  | { readonly k: 'current' }
  /** The record is the acting CPU's own per-CPU record. */
  | { readonly k: 'own_cpu' }
  /** A marked access (Atomics: the kernel's READ_ONCE/WRITE_ONCE of a field also read or written locklessly). */
  | { readonly k: 'marked' }
  | { readonly k: 'all'; readonly of: readonly GuardReq[] };

export type GuardKind = 'lock' | 'rcu' | 'write_once' | 'init' | 'atomic' | 'owner' | 'lock_word' | 'doc';

export interface Guard {
  readonly kind: GuardKind;
  /** Any-of requirements for a plain or marked read; null: not checked. */
  readonly read: readonly GuardReq[] | null;
  /** Any-of requirements for a write; null: not checked. */
  readonly write: readonly GuardReq[] | null;
  /** What SharedArrayBuffer.md prints. */
  readonly text: string;
}

export const lock = (cls: string, mode: LockMode = 'write', at?: LockAt): GuardReq => (at ? { k: 'lock', cls, mode, at } : { k: 'lock', cls, mode });
export const RCU_READ: GuardReq = { k: 'rcu' };
export const CURRENT: GuardReq = { k: 'current' };
export const MARKED: GuardReq = { k: 'marked' };
export const all_of = (...of: GuardReq[]): GuardReq => ({ k: 'all', of });

/** A lock held for read satisfies a read of a field written under the same lock held for write. */
function relax(r: GuardReq): GuardReq {
  if (r.k === 'lock') return { ...r, mode: 'held' };
  if (r.k === 'all') return { k: 'all', of: r.of.map(relax) };
  return r;
}

export function req_text(r: GuardReq): string {
  switch (r.k) {
    case 'lock': {
      const where = r.at?.self ? `` : r.at?.ptr ? ` of ->${r.at.ptr}` : '';
      const mode = r.mode === 'held' ? '' : r.mode === 'read' ? ' (read)' : r.cls === 'tasklist_lock' ? ' (write)' : '';
      return `${r.cls}${where}${mode}`;
    }
    case 'rcu': return 'rcu_read_lock';
    case 'current': return 'current';
    case 'own_cpu': return 'own CPU';
    case 'marked': return 'READ_ONCE/WRITE_ONCE';
    case 'all': return r.of.map(req_text).join(' + ');
  }
}

const list_text = (rs: readonly GuardReq[]): string => rs.map(req_text).join(' or ');

/**
 * Written under `write` (any-of), read under the same locks in any mode, or under `alsoRead`.
 * `note` is appended to the rendered text.
 */
export function locked(write: GuardReq | readonly GuardReq[], alsoRead: readonly GuardReq[] = [], note = ''): Guard {
  const w = Array.isArray(write) ? (write as readonly GuardReq[]) : [write as GuardReq];
  const read = [...w.map(relax), ...alsoRead];
  const rtext = alsoRead.length ? `; read under ${list_text(read)}` : '';
  return { kind: 'lock', write: w, read, text: `${list_text(w)}${rtext}${note ? ` (${note})` : ''}` };
}

/** Written under `write` (any-of); read locklessly (plain reads the kernel makes too: not checked). */
export function written_under(write: GuardReq | readonly GuardReq[], note = ''): Guard {
  const w = Array.isArray(write) ? (write as readonly GuardReq[]) : [write as GuardReq];
  return { kind: 'lock', write: w, read: null, text: `${list_text(w)}; lockless reads${note ? ` (${note})` : ''}` };
}

/** RCU: written under `write`, readable under rcu_read_lock or the same locks in any mode (or `alsoRead`). */
export function rcu(write: GuardReq | readonly GuardReq[], note = '', alsoRead: readonly GuardReq[] = []): Guard {
  const w = Array.isArray(write) ? (write as readonly GuardReq[]) : [write as GuardReq];
  const more = alsoRead.length ? ` or ${list_text(alsoRead)}` : '';
  return { kind: 'rcu', write: w, read: [RCU_READ, ...w.map(relax), ...alsoRead], text: `RCU: written under ${list_text(w)}, read under rcu_read_lock or it${more}${note ? ` (${note})` : ''}` };
}

/** Written by current only; any task may read it (READ_ONCE). */
export function owner_task(note = ''): Guard {
  return { kind: 'owner', write: [CURRENT], read: null, text: `current${note ? ` (${note})` : ''}` };
}

export const write_once = (note = ''): Guard => ({ kind: 'write_once', read: null, write: null, text: `write-once${note ? ` ${note}` : ''}` });
export const init_only = (note = ''): Guard => ({ kind: 'init', read: null, write: null, text: `init only, before publication${note ? ` (${note})` : ''}` });
export const atomic = (note = ''): Guard => ({ kind: 'atomic', read: null, write: null, text: note ? `Atomics ${note}`.replace('Atomics Atomics', 'Atomics') : 'Atomics' });

/**
 * The guards still written as text: a fixed reading of the phrases the schema uses (every one of
 * them is a rule the checker cannot decide from held locks, so none is checked), and anything else
 * is documentation only. Records whose fields kernel paths touch declare structured guards.
 */
export function guard_of(g: Guard | string): Guard {
  if (typeof g !== 'string') return g;
  if (g.startsWith('write-once')) return { kind: 'write_once', read: null, write: null, text: g };
  if (g.startsWith('Atomics')) return { kind: 'atomic', read: null, write: null, text: g };
  if (g === 'itself' || g === 'its lock') return { kind: 'lock_word', read: null, write: null, text: g };
  if (g.startsWith('own CPU')) return { kind: 'owner', read: null, write: null, text: g };
  if (g.startsWith('current')) return { kind: 'owner', read: null, write: [CURRENT], text: g };
  return { kind: 'doc', read: null, write: null, text: g };
}
