/**
 * alarm(2) and the ITIMER_REAL expiry (kernel/time/itimer.c: it_real_fn), the signal a timer
 * interrupt delivers. The expiry runs in hard-interrupt context on whatever CPU the timer fires on,
 * on top of whatever task runs there: it_real_fn does kill_pid_info(SIGALRM, SEND_SIG_PRIV,
 * leader_pid), an RCU reader (pid_task) that takes the target's siglock (spin_lock_irqsave).
 *
 * The model has no hrtimer base: alarm(cpu) raises the timer interrupt on `cpu` at once
 * (src/sched/irq.ts delivers it at one of that CPU's next eligible hooks). The kernel's timer pins
 * signal->leader_pid; the interrupt's argument here is one word, the process's number in
 * init_pid_ns, looked up under rcu_read_lock when the timer fires (find_pid_ns): a process that
 * exited before its alarm fired gets nothing, and a number reused by then names the new process,
 * as a kill(2) by number would.
 */
import { G, TASK } from '../mm/layout.js';
import { kg, mem, this_cpu_id } from '../mm/memory.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { IRQV_IT_REAL, raise_irq, register_irq_handler } from '../sched/irq.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EINVAL } from './errno.js';
import { SYS_ALARM } from './unistd.js';
import { find_pid_ns, pid_nr } from './pid.js';
import { init_pid_ns } from './pid_namespace.js';
import { kill_pid_info, SEND_SIG_PRIV } from './signal.js';
import { SIGALRM } from './sched_task.js';

/** it_real_fn: the timer interrupt's handler; `nr` is the process's number in init_pid_ns. */
export function it_real_fn(nr: number): void {
  rcu_read_lock();
  const pid = find_pid_ns(nr, init_pid_ns());
  if (pid) kill_pid_info(SIGALRM, SEND_SIG_PRIV, pid);
  rcu_read_unlock();
}

/** SYS_ALARM(cpu): arm the caller's ITIMER_REAL; it fires on `cpu` (-1: this CPU). */
function sys_alarm(cpu: number): number {
  const target = cpu < 0 ? this_cpu_id : cpu;
  if (target >= mem[kg + G.ncpus]!) return -EINVAL;
  raise_irq(target, IRQV_IT_REAL, pid_nr(mem[current + TASK.tgid_pid]!), 1);
  return 0;
}

register_irq_handler(IRQV_IT_REAL, it_real_fn);
register_syscall(SYS_ALARM, 'alarm', (cpu) => sys_alarm(cpu));
