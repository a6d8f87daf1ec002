import type { AnyProjection } from './projection';
import { BUILTIN_PROJECTIONS } from './builtin';

const NAME = /^[a-z][a-z0-9-]*$/;

/** A named set of projections; replay rebuilds every projection of a registry. */
export class ProjectionRegistry {
  private readonly byName = new Map<string, AnyProjection>();

  constructor(projections: readonly AnyProjection[] = []) {
    for (const p of projections) this.register(p);
  }

  register(p: AnyProjection): this {
    if (!NAME.test(p.name)) throw new Error(`projection name "${p.name}": expected kebab-case`);
    if (this.byName.has(p.name)) throw new Error(`projection "${p.name}" registered twice`);
    this.byName.set(p.name, p);
    return this;
  }

  get(name: string): AnyProjection | undefined {
    return this.byName.get(name);
  }

  /** Sorted by name, so replay output is stable. */
  list(): AnyProjection[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((p) => p.name);
  }

  /** A registry holding only the named projections (unknown names throw). */
  only(names: readonly string[]): ProjectionRegistry {
    const missing = names.filter((n) => !this.byName.has(n));
    if (missing.length > 0)
      throw new Error(`unknown projection(s): ${missing.join(', ')} (known: ${this.names().join(', ')})`);
    return new ProjectionRegistry(names.map((n) => this.byName.get(n) as AnyProjection));
  }
}

const extensions: AnyProjection[] = [];

/**
 * Adds a projection to every registry made by `defaultRegistry()` from now on (for projections that live outside
 * this library). Projections that the audit must always cover belong in BUILTIN_PROJECTIONS instead.
 */
export function registerProjection(p: AnyProjection): void {
  if (extensions.some((e) => e.name === p.name) || BUILTIN_PROJECTIONS.some((b) => b.name === p.name))
    throw new Error(`projection "${p.name}" registered twice`);
  extensions.push(p);
}

/** The built-in projections plus those added with registerProjection(). */
export function defaultRegistry(): ProjectionRegistry {
  return new ProjectionRegistry([...BUILTIN_PROJECTIONS, ...extensions]);
}
