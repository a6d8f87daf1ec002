/**
 * Objects keyed by external ids (campaigns, domains, recipe paths) must not see Object.prototype: a campaign named
 * "constructor" or a recipe path "__proto__.x" would otherwise read or write the prototype. A null-prototype object
 * serialises exactly like a plain one, so recorded hashes do not change.
 */
export const dict = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

/** `rec[key]` if it is the record's own property (never an inherited one). */
export const own = <V>(rec: Readonly<Record<string, V>> | null | undefined, key: string): V | undefined =>
  rec != null && Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;

/** Sets an own, enumerable property even for "__proto__" (plain assignment would replace the prototype). */
export function setOwn<V>(rec: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(rec, key, { value, writable: true, enumerable: true, configurable: true });
}
