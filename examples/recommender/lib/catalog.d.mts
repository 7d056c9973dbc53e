// Types of catalog.mjs for the TypeScript that imports it (the replay, the tests).
export declare const DIM: number;
export declare const ITEMS: number;
export declare const TOPK: number;
export declare const CANDIDATES: number;
export declare const FEATURES: number;
export declare const MAX_RECENT: number;
export declare const MAX_WORDS: number;
export declare function hash32(text: string): number;
export declare function mulberry32(seed: number): () => number;
export declare function embed(key: string, out: Float32Array, offset?: number): void;
export declare const ITEM_EMBEDDINGS: Float32Array;
export declare const POPULARITY: Float32Array;
export declare function tokenize(text: string): string[];
export declare function topK(ids: ArrayLike<number>, scores: ArrayLike<number>, k: number, exclude: Set<number>): number[];
