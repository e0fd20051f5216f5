/** Roles by numeric user id. Empty lists mean nobody: the transport fails closed. */
import type { Role } from './registry.js';

export class RoleDirectory {
  constructor(
    private readonly operators: ReadonlySet<string>,
    private readonly viewers: ReadonlySet<string>,
  ) {}

  roleOf(userId: string): Role | null {
    if (this.operators.has(userId)) return 'operator';
    if (this.viewers.has(userId)) return 'viewer';
    return null;
  }

  get isEmpty(): boolean {
    return this.operators.size === 0 && this.viewers.size === 0;
  }
}
