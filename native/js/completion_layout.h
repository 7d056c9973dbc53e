// The layout of the completion descriptor: the Float64Array the addon hands to the JS completion
// handler once per drain (src/engine/completions.ts reads it). Its TypeScript twin is
// src/engine/completion-layout.ts; the addon exports these numbers (completionLayout) and the JS side
// refuses to start when the two differ, so they cannot drift apart silently.
//
// Per request: kRequestWords words, then kOutputWords + rank words per output.
#pragma once

namespace tg::layout {

// Request header.
constexpr int kSlot = 0;       // the JS slot number of the request
constexpr int kStatus = 1;     // 0: ok; k > 0: the request failed with errors[k - 1]
constexpr int kQueueNs = 2;    // enqueue -> its batch started (0 when it never started)
constexpr int kComputeNs = 3;  // its batch's run, inputs gathered to outputs sliced (0 when none)
constexpr int kBatchSize = 4;  // rows of the batch it ran in (0 when it did not run)
constexpr int kOutputs = 5;    // number of outputs that follow
constexpr int kRequestWords = 6;

// Per output.
constexpr int kOutIndex = 0;   // model output index
constexpr int kOutType = 1;    // ONNX element type number
constexpr int kOutBuffer = 2;  // b >= 0: buffers[b]; b < 0: bytes[-b - 1] (BYTES outputs)
constexpr int kOutOffset = 3;  // byte offset in the buffer
constexpr int kOutLength = 4;  // element count
constexpr int kOutRank = 5;    // rank; the dims follow
constexpr int kOutputWords = 6;

}  // namespace tg::layout
