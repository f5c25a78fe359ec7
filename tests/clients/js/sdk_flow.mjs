// The JS SDK (@langchain/langgraph-sdk) against a LangGraph-compatible server: a thread, a
// streamed run (messages-tuple + values), an interrupt and its resume, the store, history.
// Usage: node sdk_flow.mjs URL  — prints one JSON object (what the test asserts on).
import { Client } from "@langchain/langgraph-sdk";

const url = process.argv[2];
if (!url) {
  console.error("usage: node sdk_flow.mjs URL");
  process.exit(2);
}
const client = new Client({ apiUrl: url });
const out = {};
const mark = `js-sdk-${Date.now()}-${Math.random().toString(36).slice(2)}`;

// assistants: the system assistant of each graph
const assistants = await client.assistants.search({ limit: 20 });
out.graphs = [...new Set(assistants.map((a) => a.graph_id))].sort();

// a thread and a streamed chat run
const thread = await client.threads.create({ metadata: { by: mark } });
out.thread_metadata_ok = thread.metadata.by === mark;
const events = [];
let tokens = "";
let lastValues = null;
for await (const chunk of client.runs.stream(thread.thread_id, "chat", {
  input: { messages: [{ role: "human", content: "hi from js" }] },
  streamMode: ["messages-tuple", "values"],
})) {
  events.push(chunk.event);
  if (chunk.event === "messages") {
    const [message, meta] = chunk.data;
    if (message.type === "AIMessageChunk" || message.type === "ai") tokens += message.content;
    out.message_meta_node ??= meta.langgraph_node;
  }
  if (chunk.event === "values") lastValues = chunk.data;
}
out.chat_events = [...new Set(events)];
out.chat_tokens = tokens;
out.chat_values = lastValues.messages.map((m) => [m.type, m.content]);
const chatState = await client.threads.getState(thread.thread_id);
out.chat_state = chatState.values.messages.map((m) => [m.type, m.content]);
out.chat_next = chatState.next;

// an interrupt, then resume with a command (on a new thread of the approval graph)
const ap = await client.threads.create();
const apEvents = [];
let interruptSeen = null;
for await (const chunk of client.runs.stream(ap.thread_id, "approval", {
  input: { request: "deploy" },
  streamMode: ["values", "updates"],
})) {
  apEvents.push(chunk.event);
  if (chunk.event === "updates" && chunk.data.__interrupt__) interruptSeen = chunk.data.__interrupt__;
  if (chunk.event === "values" && chunk.data.__interrupt__) interruptSeen ??= chunk.data.__interrupt__;
}
out.approval_events = [...new Set(apEvents)];
out.interrupt_value = interruptSeen?.[0]?.value ?? null;
const paused = await client.threads.get(ap.thread_id);
out.paused_status = paused.status;
out.paused_interrupts = Object.values(paused.interrupts ?? {}).flat().map((i) => i.value);
const pausedState = await client.threads.getState(ap.thread_id);
out.paused_next = pausedState.next;
out.paused_task_interrupts = pausedState.tasks.flatMap((t) => t.interrupts.map((i) => i.value));
const resumed = await client.runs.wait(ap.thread_id, "approval", { command: { resume: "yes" } });
out.resumed_values = resumed;
const done = await client.threads.get(ap.thread_id);
out.done_status = done.status;
const runs = await client.runs.list(ap.thread_id);
out.approval_runs = runs.map((r) => r.status).sort();
const history = await client.threads.getHistory(ap.thread_id, { limit: 20 });
out.history_len = history.length;
out.history_first_next = history[0].next;
out.history_has_checkpoints = history.every((s) => typeof s.checkpoint?.checkpoint_id === "string");

// the store
const ns = ["js", "notes"];
await client.store.putItem(ns, "n1", { text: "hello", n: 1 });
await client.store.putItem(ns, "n2", { text: "bye", n: 2 });
const item = await client.store.getItem(ns, "n1");
out.store_item = { namespace: item.namespace, key: item.key, value: item.value };
const found = await client.store.searchItems(["js"], { filter: { n: 2 } });
out.store_search = found.items.map((i) => i.key);
const spaces = await client.store.listNamespaces({ prefix: ["js"] });
out.store_namespaces = spaces.namespaces;
await client.store.deleteItem(ns, "n1");
out.store_after_delete = await client.store.getItem(ns, "n1");
await client.store.deleteItem(ns, "n2");

// threads search sees ours, and the thread ids the mixed-use test continues
const mine = await client.threads.search({ metadata: { by: mark } });
out.search_ids = mine.map((t) => t.thread_id);
// Agent Chat UI lists a graph's threads by the metadata runs put on them
const byGraph = await client.threads.search({ metadata: { graph_id: "chat" }, limit: 1000 });
out.listed_by_graph_id = byGraph.some((t) => t.thread_id === thread.thread_id);
const byAssistant = await client.threads.search({
  metadata: { assistant_id: assistants.find((a) => a.graph_id === "chat").assistant_id },
  limit: 1000,
});
out.listed_by_assistant_id = byAssistant.some((t) => t.thread_id === thread.thread_id);
out.thread_id = thread.thread_id;
out.approval_thread_id = ap.thread_id;

console.log(JSON.stringify(out));
