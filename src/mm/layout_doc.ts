/**
 * Renders SharedArrayBuffer.md from the layout schema, so the document cannot drift from the code:
 * test/layout_doc.test.ts fails when the committed document differs from this rendering
 * (regenerate with `npm run gen:layout-doc`).
 */
import {
  ALL_STRUCTS, HELD_WORDS, INSN, layoutOf, VIOLATION, MAX_LOCK_CLASSES, MAX_LOCK_DEPTH, MAX_PID_NS_LEVEL, MUTEX_WORDS, QR_BIAS, QW_LOCKED,
  QW_WAITING, RCU_HEAD_WORDS, RWLOCK_WORDS, SPINLOCK_WORDS, UPID_WORDS, WAITQ_WORDS, type StructSpec,
} from './layout.js';
import { guard_of } from './guard.js';
import { computeRegions, defaultConfig, NR_SLABS, SLAB_NAMES, STAT_WORDS } from './memory.js';

function structTable(s: StructSpec): string {
  const l = layoutOf(s.fields);
  const rows = l.fields.map(({ field: f, offset, words }) => {
    const line = f.align ? ' (starts a 64-byte cache line)' : '';
    const of = f.of ? ` (${f.count ? `${f.count} x ` : ''}\`${f.of}\`)` : '';
    const g = guard_of(f.guard);
    const checked = [g.read ? 'r' : '', g.write ? 'w' : ''].join('') || '-';
    return `| ${offset} | \`${f.name}\` | ${words} | ${g.text} | ${checked} | ${f.doc}${of}${line} |`;
  });
  const off = l.size;
  return [
    `### \`${s.name}\` — ${s.kernel}`,
    '',
    s.doc,
    '',
    `Size: ${off} words.`,
    '',
    '| offset | field | words | guarded by | checked | meaning |',
    '|---:|---|---:|---|:-:|---|',
    ...rows,
    '',
  ].join('\n');
}

export function renderLayoutDoc(): string {
  const c = defaultConfig();
  const r = computeRegions(c);
  const regionRows = [
    ['kernel (G)', r.global, 1, 'kernel globals'],
    ['cpu', r.cpus.base, r.cpus.count, `stride ${r.cpus.stride}`],
    ['kmem_cache', r.slabs, NR_SLABS, SLAB_NAMES.join(', ')],
    ...r.objects.map((o, i) => [SLAB_NAMES[i]!, o.base, o.count, `stride ${o.stride}`]),
    ['pid_hash', r.pidHash.base, r.pidHash.count, 'bucket heads (address of the first upid)'],
    ['pid_bitmap', r.bitmaps.base, r.bitmaps.count, `${r.bitmapWords} words per pid namespace slot`],
    ['programs', r.programs.base, r.programs.words, `user programs, ${INSN.SIZE} words an instruction (\`insn\`)`],
    ['violations', r.violations.base, r.violations.words, `violation log: records of ${VIOLATION.SIZE} words (\`violation\`)`],
    ['lockdep', r.lockdep.base, r.lockdep.words, `${MAX_LOCK_CLASSES}x${MAX_LOCK_CLASSES} lock-order matrix`],
    ['choices', r.choices.base, r.choices.words, 'controlled-mode choice record (replay)'],
    ['torture', r.torture, 1, 'locktorture/rcutorture state'],
    ['trace', r.trace.base, r.trace.count, `per-CPU trace rings of config.traceEvents trace_event records (${r.trace.count ? `stride ${r.trace.stride}` : 'none: tracing is off by default'})`],
  ];
  return [
    '<!-- Generated from src/mm/layout.ts by `npm run gen:layout-doc`. Do not edit by hand: test/layout_doc.test.ts checks it. -->',
    '# SharedArrayBuffer layout',
    '',
    'All kernel state of a pidrace machine lives in one `SharedArrayBuffer` viewed as an `Int32Array`',
    '(`mem`), plus a small `Float64Array` buffer of per-CPU lock statistics. Every structure below is',
    'declared once in `src/mm/layout.ts`; offsets are derived from that schema and nothing else hard-codes',
    'an index. A pointer is a word index into `mem`; 0 is NULL.',
    '',
    '## Memory-ordering rules',
    '',
    '- Lock words are only touched with `Atomics` (compareExchange / exchange / add / and / or). An',
    '  acquisition is a sequentially consistent read-modify-write and a release is one too, so plain',
    '  reads and writes of the fields a lock guards stay inside the critical section (they pair as the',
    '  kernel\'s acquire/release pairs do).',
    '- Fields marked `Atomics` are read and written with `Atomics.load/store` (or RMW) without a lock.',
    '- `write-once` fields are written before the object is published (an `Atomics.store` of its',
    '  address, or the unlock of the lock that guards the list it is linked into) and never change.',
    '- `current` / `own CPU` fields are written only by the task itself / the CPU itself; other threads',
    '  read them only for detection and reports, where a stale value is harmless.',
    '- Every freed kernel record (task_struct, signal_struct/sighand, nsproxy, user_namespace, ns_common,',
    '  pid, pid_namespace, file) carries a poison word: `POISON_LIVE` while allocated, `POISON_FREED`',
    '  once freed (after the call_rcu callback for the RCU-freed ones). The RCU readers of struct pid',
    '  and pid_namespace check it (rcu_dereference_check); in the checked build every access of such a',
    '  record does, and one that finds `POISON_FREED` records a use-after-free violation.',
    '- The guards are data (src/mm/guard.ts). The `checked` column says which accesses the checked',
    '  build (`--check-guards`) tests against the acting CPU\'s held locks, its RCU read side and',
    '  current: `r` reads, `w` writes. Each requirement list is any-of; `+` joins an all-of set.',
    '- A task\'s `state` moves from sleeping to `TASK_RUNNING` only by compareExchange (try_to_wake_up),',
    '  after the sleeper stored its sleeping state and before it tests its wait condition again.',
    '- A CPU that takes a task waits until the task\'s `on_cpu` is 0 (stored last by the CPU that ran',
    '  it), so two CPUs never run one task.',
    '',
    '## Lock words',
    '',
    `- \`spinlock_t\` (${SPINLOCK_WORDS} words): \`val\` (0 free, 1 locked, 2 locked with sleepers parked on the word), \`owner\` (cpu+1), \`class\` (lockdep class id).`,
    `- \`rwlock_t\` (${RWLOCK_WORDS} words), the kernel's queued rwlock: \`cnts\` = readers x _QR_BIAS (${QR_BIAS}) + _QW_WAITING (0x${QW_WAITING.toString(16)}) + writer byte _QW_LOCKED (0x${QW_LOCKED.toString(16)}); \`wait_next\`/\`wait_owner\` form the FIFO ticket lock standing in for \`wait_lock\`; \`writer\` (cpu+1), \`class\`, \`sleepers\` (CPUs parked on the lock's words).`,
    `- \`struct mutex\` (${MUTEX_WORDS} words): \`owner\` (task address), \`class\`, \`nwait\`, a \`wait_lock\` spinlock, the FIFO waiter list head (tasks linked through \`task.wq_next\`).`,
    `- \`wait_queue_head_t\` (${WAITQ_WORDS} words): a spinlock, first and last waiter.`,
    `- \`rcu_head\` (${RCU_HEAD_WORDS} words, embedded in RCU-freed objects): next, grace period, callback id, object.`,
    '',
    '## Limits',
    '',
    `- MAX_PID_NS_LEVEL = ${MAX_PID_NS_LEVEL} (levels 0..${MAX_PID_NS_LEVEL}); a struct pid holds level+1 upids of ${UPID_WORDS} words (nr, ns, hash_next).`,
    `- Held-lock stack: ${MAX_LOCK_DEPTH} entries of ${HELD_WORDS} words per CPU; ${MAX_LOCK_CLASSES} lock classes.`,
    `- Lock statistics: ${STAT_WORDS} float64 per CPU per class (acquisitions, contended, wait ns, max hold; then the write side of a rwlock: acquisitions, contended, wait ns; one spare).`,
    '',
    '## Regions (default configuration)',
    '',
    `Default config: ${c.ncpus} CPUs, pid_max ${c.pidMax}, ${c.maxTasks} tasks, ${c.maxPids} pids, ${c.maxPidNs} pid namespaces; total ${r.totalWords} words (${(r.totalWords * 4 / 1048576).toFixed(1)} MiB). Capacities come from the config; \`computeRegions\` lays them out in this order.`,
    '',
    '| region | base (word) | count | notes |',
    '|---|---:|---:|---|',
    ...regionRows.map(([n, b, k, d]) => `| ${n} | ${b} | ${k} | ${d} |`),
    '',
    '## Structures',
    '',
    ...ALL_STRUCTS.map(structTable),
  ].join('\n');
}
