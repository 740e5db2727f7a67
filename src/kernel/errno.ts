/**
 * errno values (include/uapi/asm-generic/errno-base.h, errno.h). Kernel functions return
 * -ERRNO, as the kernel does; the scripting API turns them into errors whose `code` is the name.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const E2BIG = 7;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENFILE = 23;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const ERANGE = 34;
export const ENOSYS = 38;
export const EUSERS = 87;
export const ERESTARTSYS = 512;
export const ERESTARTNOINTR = 513;
export const ERESTARTNOHAND = 514;

export const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [ESRCH]: 'ESRCH', [EINTR]: 'EINTR', [EIO]: 'EIO', [E2BIG]: 'E2BIG', [EBADF]: 'EBADF',
  [ECHILD]: 'ECHILD', [EAGAIN]: 'EAGAIN', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST', [EINVAL]: 'EINVAL', [ENFILE]: 'ENFILE', [ENOTTY]: 'ENOTTY', [ENOSPC]: 'ENOSPC', [ERANGE]: 'ERANGE',
  [ENOSYS]: 'ENOSYS', [EUSERS]: 'EUSERS', [ERESTARTSYS]: 'ERESTARTSYS', [ERESTARTNOINTR]: 'ERESTARTNOINTR', [ERESTARTNOHAND]: 'ERESTARTNOHAND',
};

export function errno_name(e: number): string {
  return ERRNO_NAMES[Math.abs(e)] ?? `E${Math.abs(e)}`;
}

/** IS_ERR_VALUE for the model: kernel functions return -errno (> -4096) for errors. */
export function is_err(v: number): boolean {
  return v < 0 && v > -4096;
}
