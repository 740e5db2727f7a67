/**
 * User namespaces, capabilities and the UCOUNT_PID_NAMESPACES limit: only what the pid-namespace
 * code needs (kernel/user_namespace.c, kernel/capability.c, security/commoncap.c, kernel/ucount.c).
 *
 * Task credentials are three TASK words (K2 copies them at fork): cred_uid (euid), cred_user_ns
 * (cred->user_ns, a reference is held) and cred_caps (cap_effective as CAP_* bits of the model).
 */
import { G, TASK, USERNS } from '../mm/layout.js';
import { kg, mem, SLAB_USERNS } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { current, SLEEP } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { SYS_GID_MAP_WRITE, SYS_SETGROUPS_WRITE, SYS_UID_MAP_WRITE } from './unistd.js';
import { EACCES, EINVAL, ENOMEM, ENOSPC, EPERM } from './errno.js';
import { ns_alloc_inum, PROC_USER_INIT_INO } from './ns_common.js';

// ---- capabilities (include/uapi/linux/capability.h) --------------------------------------------
// The model's capability set is a bit mask of the capabilities it uses (NOT the kernel's numbers:
// CAP_CHECKPOINT_RESTORE is 40 there and does not fit an int32 mask).
export const CAP_KILL = 1 << 0;
export const CAP_SETUID = 1 << 1;
export const CAP_SYS_PTRACE = 1 << 2;
export const CAP_SYS_ADMIN = 1 << 3;
export const CAP_CHECKPOINT_RESTORE = 1 << 4;
export const CAP_SYS_BOOT = 1 << 5;
export const CAP_SETGID = 1 << 6;
export const CAP_SETFCAP = 1 << 7;
/** CAP_FULL_SET: every capability of the model (what a new user namespace's creator gets). */
export const CAP_FULL_SET = (1 << 8) - 1;

/** include/linux/user_namespace.h: nesting limit checked by create_user_ns (parent level > 32). */
export const USER_NS_MAX_LEVEL = 32;
/** ucount_max[] default of a new user namespace (create_user_ns sets INT_MAX). */
export const UCOUNT_MAX_DEFAULT = 0x7fffffff;

export const init_user_ns = (): number => mem[kg + G.init_user_ns]!;

// ---- id maps (kernel/user_namespace.c map_id_down / map_id_up, include/linux/uidgid.h) ----------
/** INVALID_UID / INVALID_GID: (uid_t)-1. */
export const INVALID_ID = -1;
/** The extent count that stands for init_user_ns's "0 0 4294967295": every id maps to itself. */
export const ID_MAP_ALL = -1;
/** include/linux/user_namespace.h: USERNS_SETGROUPS_ALLOWED (set in a new namespace). */
export const USERNS_SETGROUPS_ALLOWED = 1;

/** The USERNS words of one struct uid_gid_map (one extent). */
export interface IdMapFields { readonly count: number; readonly first: number; readonly lower: number }
export const UID_MAP: IdMapFields = { count: USERNS.uid_map_count, first: USERNS.uid_map_first, lower: USERNS.uid_map_lower };
export const GID_MAP: IdMapFields = { count: USERNS.gid_map_count, first: USERNS.gid_map_first, lower: USERNS.gid_map_lower };

/**
 * map_id_down for one extent: the kernel id of `id` seen in `ns`, or INVALID_ID (make_kuid /
 * make_kgid). The count is loaded first, acquire-ordered: it pairs with map_write's store of the
 * count after the extent (the kernel's smp_wmb before publishing nr_extents, smp_rmb in
 * map_id_range_down), so a reader that sees the count sees the extent.
 */
function map_id_down(ns: number, m: IdMapFields, id: number): number {
  const count = Atomics.load(mem, ns + m.count);
  if (count === ID_MAP_ALL) return id;
  const first = mem[ns + m.first]!;
  if (count > 0 && id >= first && id - first < count) return (mem[ns + m.lower]! + (id - first)) | 0;
  return INVALID_ID;
}

/** map_id_up: the id in `ns` of kernel id `kid`, or INVALID_ID (from_kuid / from_kgid). */
function map_id_up(ns: number, m: IdMapFields, kid: number): number {
  const count = Atomics.load(mem, ns + m.count);
  if (count === ID_MAP_ALL) return kid;
  const lower = mem[ns + m.lower]!;
  if (count > 0 && kid >= lower && kid - lower < count) return (mem[ns + m.first]! + (kid - lower)) | 0;
  return INVALID_ID;
}

/** make_kuid (kernel/user_namespace.c). */
export const make_kuid = (ns: number, uid: number): number => map_id_down(ns, UID_MAP, uid);
/** make_kgid. */
export const make_kgid = (ns: number, gid: number): number => map_id_down(ns, GID_MAP, gid);
/** from_kuid: INVALID_ID when the kuid has no mapping in ns. */
export const from_kuid = (ns: number, kuid: number): number => map_id_up(ns, UID_MAP, kuid);
/** from_kgid. */
export const from_kgid = (ns: number, kgid: number): number => map_id_up(ns, GID_MAP, kgid);
/** kuid_has_mapping (include/linux/uidgid.h). */
export const kuid_has_mapping = (ns: number, kuid: number): boolean => from_kuid(ns, kuid) !== INVALID_ID;
/** kgid_has_mapping. */
export const kgid_has_mapping = (ns: number, kgid: number): boolean => from_kgid(ns, kgid) !== INVALID_ID;

/**
 * Boot: init_user_ns (kernel/user.c). Level 0, owner GLOBAL_ROOT_UID, never freed (its count
 * starts at 3 as in the kernel, so puts can not bring it to zero).
 */
export function user_ns_boot_init(): number {
  const ns = kmem_cache_alloc(SLAB_USERNS);
  if (!ns) throw new Error('boot: user_namespace cache empty');
  mem[ns + USERNS.count] = 3;
  mem[ns + USERNS.level] = 0;
  mem[ns + USERNS.parent] = 0;
  mem[ns + USERNS.owner] = 0;
  mem[ns + USERNS.max_pid_ns] = UCOUNT_MAX_DEFAULT;
  mem[ns + USERNS.nr_pid_ns] = 0;
  mem[ns + USERNS.inum] = PROC_USER_INIT_INO;
  // init_user_ns's maps: "0 0 4294967295" (kernel/user.c); USERNS_SETGROUPS_ALLOWED.
  mem[ns + USERNS.uid_map_count] = ID_MAP_ALL;
  mem[ns + USERNS.gid_map_count] = ID_MAP_ALL;
  mem[ns + USERNS.flags] = USERNS_SETGROUPS_ALLOWED;
  mark_live(ns, USERNS.poison);
  mem[kg + G.init_user_ns] = ns;
  return ns;
}

/** get_user_ns (include/linux/user_namespace.h). */
export function get_user_ns(ns: number): number {
  if (ns) Atomics.add(mem, ns + USERNS.count, 1);
  return ns;
}

/**
 * put_user_ns / __put_user_ns + free_user_ns (kernel/user_namespace.c): the last reference frees
 * the namespace and drops the reference it held on its parent, walking up as the kernel's
 * do { ... } while (refcount_dec_and_test(&parent->ns.count)) loop does. init_user_ns is never
 * freed. (The kernel defers free_user_ns to a work item; the model frees at once: nothing reads a
 * user namespace under RCU.)
 */
export function put_user_ns(ns: number): void {
  const init = init_user_ns();
  while (ns && ns !== init) {
    if (Atomics.sub(mem, ns + USERNS.count, 1) !== 1) return;
    const parent = mem[ns + USERNS.parent]!;
    kmem_cache_free(SLAB_USERNS, ns, USERNS.poison);
    ns = parent;
  }
}

/**
 * create_user_ns (kernel/user_namespace.c) for a creator with euid `owner_uid` and egid
 * `owner_gid` in `parent`: the new namespace or -ENOSPC (parent->level > 32), -EPERM (the creator's
 * uid or gid has no mapping in `parent`), -ENOMEM (slab). `could_setfcap`: the creator had
 * CAP_SETFCAP (parent_could_setfcap). The caller's reference on
 * `parent` is not consumed: the new namespace takes its own (the kernel moves the cred's reference
 * into ns->parent and set_cred_user_ns gives the cred the new one; set_cred_user_ns below does
 * both halves for a task). UCOUNT_USER_NAMESPACES is not modelled.
 */
export function create_user_ns(parent: number, owner_uid: number, owner_gid = 0, could_setfcap = true): number {
  if (mem[parent + USERNS.level]! > USER_NS_MAX_LEVEL) return -ENOSPC;
  // Setting up a new user namespace requires the creator to have a mapping in the parent
  // namespace, to ensure user namespace creation never creates new user ids.
  if (!kuid_has_mapping(parent, owner_uid) || !kgid_has_mapping(parent, owner_gid)) return -EPERM;
  const ns = kmem_cache_alloc(SLAB_USERNS);
  if (!ns) return -ENOMEM;
  mem[ns + USERNS.level] = mem[parent + USERNS.level]! + 1;
  mem[ns + USERNS.parent] = get_user_ns(parent);
  mem[ns + USERNS.owner] = owner_uid;
  mem[ns + USERNS.group] = owner_gid;
  mem[ns + USERNS.parent_could_setfcap] = could_setfcap ? 1 : 0;
  mem[ns + USERNS.max_pid_ns] = UCOUNT_MAX_DEFAULT;
  mem[ns + USERNS.nr_pid_ns] = 0;
  mem[ns + USERNS.inum] = ns_alloc_inum(SLAB_USERNS, ns);
  // No maps yet (uid_map_count = gid_map_count = 0 from the zeroed slab object).
  mem[ns + USERNS.flags] = USERNS_SETGROUPS_ALLOWED;
  Atomics.store(mem, ns + USERNS.count, 1);
  mark_live(ns, USERNS.poison);
  return ns;
}

/**
 * set_cred_user_ns (kernel/user_namespace.c) applied to a task's credentials: the task's cred now
 * lives in `ns` with a full capability set. Consumes the caller's reference on `ns` and drops the
 * task's reference on its previous user namespace. Caller: the unshare(CLONE_NEWUSER) path (K3),
 * under task_lock as commit_creds.
 */
export function set_cred_user_ns(t: number, ns: number): void {
  const old = mem[t + TASK.cred_user_ns]!;
  mem[t + TASK.cred_user_ns] = ns;
  mem[t + TASK.cred_caps] = CAP_FULL_SET;
  if (old) put_user_ns(old);
}

/** in_userns (kernel/user_namespace.c): is `child` `ancestor` or one of its descendants? */
export function in_userns(ancestor: number, child: number): boolean {
  let ns = child;
  const lvl = mem[ancestor + USERNS.level]!;
  while (ns && mem[ns + USERNS.level]! > lvl) ns = mem[ns + USERNS.parent]!;
  return ns === ancestor;
}

/** current_in_userns: is the task's cred user namespace `target_ns` or below it. */
export function task_in_userns(t: number, target_ns: number): boolean {
  return in_userns(target_ns, mem[t + TASK.cred_user_ns]! || init_user_ns());
}

/**
 * cap_capable (security/commoncap.c, cap_capable_helper): does task `t` have `cap` (CAP_* bit) in
 * user namespace `target_ns`? Walk from the target up:
 *  - ns == the cred's namespace: the answer is the cred's effective set;
 *  - ns level <= cred level: the cred is not an ancestor, no;
 *  - ns's parent is the cred's namespace and the cred's euid owns ns: the owner has every cap;
 *  - otherwise go to the parent.
 * `t` = 0 is kernel context (boot, the main thread driving the machine): every capability.
 * A task without a cred namespace is treated as being in init_user_ns.
 */
export function ns_capable(t: number, target_ns: number, cap: number): boolean {
  if (t === 0) return true;
  const cred_ns = mem[t + TASK.cred_user_ns]! || init_user_ns();
  const cred_level = mem[cred_ns + USERNS.level]!;
  let ns = target_ns;
  for (;;) {
    if (ns === cred_ns) return (mem[t + TASK.cred_caps]! & cap) !== 0;
    if (!ns || mem[ns + USERNS.level]! <= cred_level) return false;
    const parent = mem[ns + USERNS.parent]!;
    if (parent === cred_ns && mem[ns + USERNS.owner] === mem[t + TASK.cred_uid]) return true;
    ns = parent;
  }
}

/** capable (kernel/capability.c): ns_capable in init_user_ns. */
export function capable(t: number, cap: number): boolean {
  return ns_capable(t, init_user_ns(), cap);
}

/** checkpoint_restore_ns_capable (include/linux/capability.h): CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE. */
export function checkpoint_restore_ns_capable(t: number, ns: number): boolean {
  return ns_capable(t, ns, CAP_SYS_ADMIN) || ns_capable(t, ns, CAP_CHECKPOINT_RESTORE);
}

// ---- ucounts (kernel/ucount.c): UCOUNT_PID_NAMESPACES ------------------------------------------

/**
 * inc_ucount(ns, uid, UCOUNT_PID_NAMESPACES) through inc_pid_namespaces: charge `ns` and every
 * ancestor, each against its own limit (atomic_long_inc_below), under ucounts_lock; on failure undo
 * the levels already charged and return false. The model keeps one counter per user namespace,
 * not one per (namespace, uid) pair: every uid shares the namespace's count.
 */
export function inc_pid_namespaces(ns: number): boolean {
  const lock = kg + G.ucounts_lock;
  spin_lock(lock);
  let iter = ns;
  for (; iter; iter = mem[iter + USERNS.parent]!) {
    const n = mem[iter + USERNS.nr_pid_ns]!;
    if (n >= mem[iter + USERNS.max_pid_ns]!) break;
    mem[iter + USERNS.nr_pid_ns] = n + 1;
  }
  if (iter) {
    for (let u = ns; u !== iter; u = mem[u + USERNS.parent]!) mem[u + USERNS.nr_pid_ns]!--;
    spin_unlock(lock);
    return false;
  }
  spin_unlock(lock);
  return true;
}

/** dec_ucount(ucounts, UCOUNT_PID_NAMESPACES) through dec_pid_namespaces. */
export function dec_pid_namespaces(ns: number): void {
  const lock = kg + G.ucounts_lock;
  spin_lock(lock);
  for (let iter = ns; iter; iter = mem[iter + USERNS.parent]!) mem[iter + USERNS.nr_pid_ns]!--;
  spin_unlock(lock);
}

/** /proc/sys/user/max_pid_namespaces of a user namespace (tests and scenarios set it). */
export function set_max_pid_namespaces(ns: number, max: number): void {
  mem[ns + USERNS.max_pid_ns] = max;
}


// ---- /proc/PID/uid_map, gid_map, setgroups (kernel/user_namespace.c) ------------------------------

/** The writer's view for the file checks: file->f_cred is the opener's cred (current here). */
function file_ns_capable(t: number, ns: number, cap: number): boolean {
  return ns_capable(t, ns, cap);
}

/**
 * verify_root_map (kernel/user_namespace.c): a map whose extent maps parent id 0 needs, when the
 * namespace's own creator writes it (/proc/self after unshare), that the creator could setfcap;
 * from outside, CAP_SETFCAP over the parent.
 */
function verify_root_map(t: number, map_ns: number, lower_first: number): boolean {
  if (lower_first !== 0) return true;
  const file_ns = mem[t + TASK.cred_user_ns] || init_user_ns();
  if (map_ns === file_ns) return mem[file_ns + USERNS.parent_could_setfcap] !== 0;
  return file_ns_capable(t, mem[map_ns + USERNS.parent]!, CAP_SETFCAP);
}

/**
 * new_idmap_permitted (kernel/user_namespace.c): one id mapped onto the writer's own euid (or egid,
 * once setgroups is denied) by the namespace's owner needs nothing more; anything else needs
 * CAP_SETUID / CAP_SETGID over the parent namespace (of the task and of the opener: both are the
 * writer here).
 */
function new_idmap_permitted(t: number, ns: number, is_uid: boolean, first: number, lower: number, count: number): boolean {
  if (is_uid && !verify_root_map(t, ns, lower)) return false;
  const parent = mem[ns + USERNS.parent]!;
  if (count === 1 && mem[ns + USERNS.owner] === mem[t + TASK.cred_uid]) {
    if (is_uid) {
      if (make_kuid(parent, lower) === mem[t + TASK.cred_uid]) return true;
    } else if ((mem[ns + USERNS.flags]! & USERNS_SETGROUPS_ALLOWED) === 0 && make_kgid(parent, lower) === mem[t + TASK.cred_gid]) {
      return true;
    }
  }
  void first;
  const cap = is_uid ? CAP_SETUID : CAP_SETGID;
  return ns_capable(t, parent, cap) && file_ns_capable(t, parent, cap);
}

/**
 * map_write (kernel/user_namespace.c) of one extent "first lower count" to current's own
 * /proc/self/uid_map (is_uid) or gid_map, under userns_state_mutex (may return SLEEP: call again).
 * EPERM: the map was written already, the writer lacks
 * CAP_SYS_ADMIN over the namespace, new_idmap_permitted refuses, or `lower` has no mapping in the
 * parent; EINVAL: a bad extent (count 0, or a range that wraps). The extent is stored, then the
 * count is published with a release store (smp_wmb before nr_extents: pairs with map_id_down's
 * load of the count).
 */
export function map_write(is_uid: boolean, first: number, lower: number, count: number): number {
  const t = current;
  const ns = mem[t + TASK.cred_user_ns] || init_user_ns();
  const m = is_uid ? UID_MAP : GID_MAP;
  // userns_state_mutex: every map and setgroups write of the machine is serialized under it. A
  // contended mutex sleeps: the call is restarted from the top (nothing was done yet).
  if (mutex_lock(kg + G.userns_state_mutex) === SLEEP) return SLEEP;
  let ret = -EPERM;
  do {
    // Only allow one successful write to the map.
    if (Atomics.load(mem, ns + m.count) !== 0) break;
    // Adjusting namespace settings requires capabilities on the target.
    if (!file_ns_capable(t, ns, CAP_SYS_ADMIN)) break;
    ret = -EINVAL;
    if (count <= 0 || first < 0 || lower < 0 || first + count - 1 > 0x7ffffffe || lower + count - 1 > 0x7ffffffe) break;
    ret = -EPERM;
    if (!new_idmap_permitted(t, ns, is_uid, first, lower, count)) break;
    // Map the lower ids from the parent user namespace to the kernel global id space.
    const parent = mem[ns + USERNS.parent]!;
    const klower = is_uid ? make_kuid(parent, lower) : make_kgid(parent, lower);
    if (klower === INVALID_ID || (is_uid ? make_kuid(parent, lower + count - 1) : make_kgid(parent, lower + count - 1)) === INVALID_ID) break;
    mem[ns + m.first] = first;
    mem[ns + m.lower] = klower;
    Atomics.store(mem, ns + m.count, count); // publish after the extent (smp_wmb)
    ret = 0;
  } while (false);
  mutex_unlock(kg + G.userns_state_mutex);
  return ret;
}

/**
 * proc_setgroups_write (kernel/user_namespace.c) to /proc/self/setgroups: opening it for writing
 * needs CAP_SYS_ADMIN over the namespace (proc_setgroups_open: EACCES); "allow" after "deny" is EPERM, and
 * so is "deny" once the gid map is written.
 */
export function proc_setgroups_write(allow: boolean): number {
  const t = current;
  const ns = mem[t + TASK.cred_user_ns] || init_user_ns();
  if (!ns_capable(t, ns, CAP_SYS_ADMIN)) return -EACCES; // proc_setgroups_open: ret = -EACCES
  let ret = -EPERM;
  if (mutex_lock(kg + G.userns_state_mutex) === SLEEP) return SLEEP;
  if (allow) {
    // Enabling setgroups after setgroups has been disabled is not allowed.
    if ((mem[ns + USERNS.flags]! & USERNS_SETGROUPS_ALLOWED) !== 0) ret = 0;
  } else if (Atomics.load(mem, ns + USERNS.gid_map_count) === 0) {
    // Permanently disabling setgroups after setgroups has been enabled by writing the gid_map is
    // not allowed.
    mem[ns + USERNS.flags] = mem[ns + USERNS.flags]! & ~USERNS_SETGROUPS_ALLOWED;
    ret = 0;
  }
  mutex_unlock(kg + G.userns_state_mutex);
  return ret;
}

register_syscall(SYS_UID_MAP_WRITE, 'uid_map_write', (first, lower, count) => map_write(true, first, lower, count));
register_syscall(SYS_GID_MAP_WRITE, 'gid_map_write', (first, lower, count) => map_write(false, first, lower, count));
register_syscall(SYS_SETGROUPS_WRITE, 'setgroups_write', (allow) => proc_setgroups_write(allow !== 0));
void EINVAL;
