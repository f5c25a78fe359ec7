// One turn by the JS SDK on a thread, for the mixed-use test.
// Usage: node thread_turn.mjs URL THREAD_ID|- ASSISTANT RUN_JSON
//   THREAD_ID "-" makes a new thread; RUN_JSON is {"input": ...} or {"command": ...}.
// Prints {thread_id, result, state: {values, next}, status}.
import { Client } from "@langchain/langgraph-sdk";

const [url, threadArg, assistant, runJson] = process.argv.slice(2);
const client = new Client({ apiUrl: url });
const threadId =
  threadArg === "-" ? (await client.threads.create()).thread_id : threadArg;
const result = await client.runs.wait(threadId, assistant, JSON.parse(runJson));
const state = await client.threads.getState(threadId);
const thread = await client.threads.get(threadId);
console.log(
  JSON.stringify({
    thread_id: threadId,
    result,
    state: { values: state.values, next: state.next },
    status: thread.status,
  }),
);
