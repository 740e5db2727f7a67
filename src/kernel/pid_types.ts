/**
 * The constants pid.ts and pid_namespace.ts share (include/linux/pid_types.h enum pid_type, the
 * PIDNS_ADDING bit of include/linux/pid_namespace.h, and the rcu_head callback ids of both files).
 *
 * A leaf module: it imports nothing of the kernel. pid.ts and pid_namespace.ts import each other
 * (alloc_pid takes a namespace reference, zap_pid_ns_processes walks the idr); what crosses that
 * cycle is only function declarations, which ES modules bind before either body runs, while the
 * constants live here, so neither module reads a `const` of the other before it is initialised,
 * whichever of the two is loaded first.
 */

/** include/linux/pid_namespace.h: PIDNS_ADDING (1U << 31) in pid_allocated: new pids may be added. */
export const PIDNS_ADDING = 1 << 31;

/** enum pid_type (include/linux/pid_types.h). The model keeps PID and TGID links in struct pid. */
export const PIDTYPE_PID = 0;
export const PIDTYPE_TGID = 1;
export const PIDTYPE_PGID = 2;
export const PIDTYPE_SID = 3;
export const PIDTYPE_MAX = 4;

/** rcu_head callback ids (unique across the model: torture uses 1, exit.ts 30). */
export const RCB_DELAYED_PUT_PID = 20; // delayed_put_pid (pid.ts)
export const RCB_DELAYED_FREE_PIDNS = 21; // delayed_free_pidns (pid_namespace.ts)
