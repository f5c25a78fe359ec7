// A tiny chat page on useStream (@langchain/langgraph-sdk/react), the way Agent Chat UI talks:
// messages-tuple + values streams, stream_resumable runs re-joined on reload
// (reconnectOnMount), the thread's history fetched on load (fetchStateHistory), an interrupt
// resumed by a command together with a checkpoint. Query: ?api=URL&assistant=ID[&thread=ID]
import { useStream } from "@langchain/langgraph-sdk/react";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(window.location.search);
const apiUrl = query.get("api");
const assistantId = query.get("assistant") ?? "chat";
window.__errors = [];

function setThreadParam(id) {
  const q = new URLSearchParams(window.location.search);
  q.set("thread", id);
  window.history.replaceState(null, "", `?${q}`);
}

function App() {
  const [threadId, setThreadId] = useState(query.get("thread"));
  const [text, setText] = useState("");
  const stream = useStream({
    apiUrl,
    assistantId,
    threadId,
    onThreadId: (id) => {
      setThreadId(id);
      setThreadParam(id);
    },
    reconnectOnMount: true,
    fetchStateHistory: true,
    onError: (e) => window.__errors.push(String(e?.message ?? e)),
  });
  const messages = stream.messages;
  const values = stream.values;
  const interrupt = stream.interrupt;
  const history = stream.history;
  const paused = history.find((s) => (s.next ?? []).includes("ask"));

  return (
    <main>
      <div id="thread">{threadId ?? ""}</div>
      <div id="status">{stream.isLoading ? "loading" : "idle"}</div>
      <ul id="messages">
        {messages.map((m, i) => (
          <li key={m.id ?? i} className={`msg msg-${m.type}`}>
            {typeof m.content === "string" ? m.content : JSON.stringify(m.content)}
          </li>
        ))}
      </ul>
      <pre id="values">{JSON.stringify(values)}</pre>
      <div id="interrupt">{interrupt ? JSON.stringify(interrupt.value) : ""}</div>
      <div id="history">{history.length}</div>
      <div id="error">{stream.error ? String(stream.error?.message ?? stream.error) : ""}</div>
      <input id="text" value={text} onChange={(e) => setText(e.target.value)} />
      <button
        id="send"
        onClick={() => {
          stream.submit(
            { messages: [{ type: "human", content: text }] },
            {
              streamMode: ["values"],
              streamSubgraphs: true,
              streamResumable: true,
              optimisticValues: (prev) => ({
                ...prev,
                messages: [...(prev.messages ?? []), { type: "human", content: text }],
              }),
            },
          );
          setText("");
        }}
      >
        send
      </button>
      <button
        id="regenerate"
        onClick={() => {
          // as Agent Chat UI regenerates the last reply: from the checkpoint before it
          const last = messages.at(-1);
          const meta = stream.getMessagesMetadata(last);
          stream.submit(undefined, {
            checkpoint: meta?.firstSeenState?.parent_checkpoint,
            streamMode: ["values"],
            streamSubgraphs: true,
            streamResumable: true,
          });
        }}
      >
        regenerate
      </button>
      <button id="stop" onClick={() => stream.stop()}>
        stop
      </button>
      <button id="start" onClick={() => stream.submit({ request: text, log: [] })}>
        start
      </button>
      <button
        id="approve"
        onClick={() =>
          stream.submit(undefined, {
            command: { resume: "yes" },
            checkpoint: paused?.checkpoint,
            streamResumable: true,
          })
        }
      >
        approve
      </button>
      <button
        id="slow"
        onClick={() =>
          stream.submit(
            { n: 1 },
            { config: { configurable: { sleep: Number(text || 3) } }, streamResumable: true },
          )
        }
      >
        slow
      </button>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
