/**
 * Values made from a text (a parse, a merge), remembered by that text so that it is made once per process: the
 * substrate's recipe and manifest are read again and again with the same content. Bounded: beyond `limit` texts
 * the oldest is forgotten. A failed `make` is not remembered. Values are shared: a caller that may change one
 * takes a copy.
 */
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly limit = 256) {}

  get(key: string, make: (key: string) => V): V {
    let v = this.values.get(key);
    if (v === undefined) {
      v = make(key);
      if (this.values.size >= this.limit) this.values.delete(this.values.keys().next().value as string);
      this.values.set(key, v);
    }
    return v;
  }
}
