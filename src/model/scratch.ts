// Activation buffers a forward pass reuses across steps, by name; each grows to the largest
// batch seen, so steady-state steps allocate nothing.
export class Scratch {
  private buffers = new Map<string, Float32Array>();

  get(name: string, size: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < size) {
      b = new Float32Array(size);
      this.buffers.set(name, b);
    }
    return b.subarray(0, size);
  }
}
