/**
 * Records keyed by external ids (campaigns, candidates, submissions, domains) are null-prototype objects, so an id
 * such as "constructor" or a domain "__proto__" is an ordinary key. They serialise exactly like plain objects, so
 * recorded evidence hashes do not change.
 */
export const dict = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

/** A null-prototype copy of `rec` with `key` set (the copy-on-write the ledger's folds use). */
export const withKey = <V>(
  rec: Readonly<Record<string | number, V>>,
  key: string | number,
  value: NoInfer<V>,
): Record<string, V> => Object.assign(dict<V>(), rec, { [key]: value });

/** `rec[key]` if it is the record's own property (never an inherited one such as `constructor`). */
export const own = <V>(rec: Readonly<Record<string, V>> | null | undefined, key: string): V | undefined =>
  rec != null && Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
