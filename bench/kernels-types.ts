// What bench/kernels.ts times on each engine (ours and llama.cpp), so both run the same workloads.
export interface EngineUnderTest {
  name: string;
  /** Seconds to prefill an n-token prompt into an empty sequence. */
  prefill(n: number): Promise<number>;
  /**
   * Tokens/s of `steps` decode steps of `sequences` sequences together (1 = batch-1 decode), each
   * after a `context`-token prompt (prefilled untimed); every step computes logits and picks a token.
   */
  batchedDecode(sequences: number, context: number, steps: number): Promise<number>;
  close(): Promise<void>;
}
