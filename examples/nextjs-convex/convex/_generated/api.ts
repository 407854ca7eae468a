// A hand-written stand-in for the `convex/_generated/api` that `npx convex dev` would generate from
// convex/myFunctions.ts. Here the functions live in the Rust backend examples/convex-numbers
// (src/functions.rs), so there is nothing to generate from; the references carry the same types.
import { makeFunctionReference } from "convex/server";

export const api = {
  myFunctions: {
    listNumbers: makeFunctionReference<"query", { count: number }, { viewer: string | null; numbers: number[] }>(
      "myFunctions:listNumbers",
    ),
    addNumber: makeFunctionReference<"mutation", { value: number }, null>("myFunctions:addNumber"),
  },
};
