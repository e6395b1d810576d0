// ===========================================================================
// ollama-shim.mjs - a TEST STAND-IN for an Ollama server, backed by a real
// llama.cpp llama-server.
//
// Why it exists: the llama-server the tests build (llama.cpp from
// node-llama-cpp 3.21.1's bundle) serves the OpenAI and llama.cpp routes but
// none of Ollama's (/api/chat, /api/embed, ...), and no Ollama server can
// be installed here (not in Debian, not on npm). So the official `ollama`
// client library talks to this shim, which speaks Ollama's wire format
// (NDJSON streams, Ollama's field names) and gets every token and every
// embedding from the real llama-server. The proxy sees real Ollama traffic;
// the content comes from a real model. Documented in docs/proxy.md.
//
// Routes: POST /api/chat, /api/generate (a prompt, or none: load),
// /api/embed, /api/embeddings; GET /api/ps, /api/tags, /api/version.
// Usage: node ollama-shim.mjs --port N --llama http://127.0.0.1:PORT
// Prints "ollama-shim: listening on 127.0.0.1:N" once it listens.
// ===========================================================================
import http from 'node:http';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) =>
    (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const llama = args.llama;
const port = Number(args.port);
if (!llama || !port) {
    console.error('usage: node ollama-shim.mjs --port N --llama http://HOST:PORT');
    process.exit(2);
}

// Read a request body as JSON ({} when empty); null when it is not JSON.
async function body (request) {
    const chunks = [];
    for await (const chunk of request)
        chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim())
        return {};
    try { return JSON.parse(text); } catch { return null; }
}

// Answer with JSON.
function json (response, status, value) {
    response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(value));
}

// Ollama's generation options as llama-server's request fields.
function options (request) {
    const o = request.options || {};
    const out = {};
    if (o.temperature !== undefined) out.temperature = o.temperature;
    if (o.seed !== undefined) out.seed = o.seed;
    if (o.num_predict !== undefined) out.max_tokens = o.num_predict;
    if (o.top_k !== undefined) out.top_k = o.top_k;
    if (o.top_p !== undefined) out.top_p = o.top_p;
    return out;
}

// Post to llama-server.
function upstream (path, value) {
    return fetch(llama + path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                 body: JSON.stringify(value) });
}

// An error from llama-server as Ollama reports errors: {"error": "..."}.
async function failed (response, reply) {
    let message = `llama-server: HTTP ${reply.status}`;
    try {
        const value = await reply.json();
        message = value.error?.message || value.error || message;
    } catch { /* not JSON */ }
    json(response, reply.status, { error: String(message) });
}

// Stream llama-server's server-sent events, calling each(delta, finish)
// per event; returns when the stream ends.
async function events (reply, each) {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of reply.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            for (const line of event.split('\n')) {
                if (!line.startsWith('data: ') || line === 'data: [DONE]')
                    continue;
                const data = JSON.parse(line.slice(6));
                const choice = data.choices?.[0] || {};
                each(choice.delta?.content ?? choice.text ?? '', choice.finish_reason);
            }
        }
    }
}

// POST /api/chat and /api/generate (a prompt): stream as NDJSON, or one
// JSON answer with "stream": false.
async function generate (request, response, chat) {
    const started = process.hrtime.bigint();
    const stream = request.stream !== false;
    const path = chat ? '/v1/chat/completions' : '/v1/completions';
    const value = { model: request.model, stream: true, ...options(request) };
    if (chat) value.messages = request.messages || [];
    else value.prompt = request.prompt;
    const reply = await upstream(path, value);
    if (!reply.ok)
        return failed(response, reply);
    const created = () => new Date().toISOString();
    const part = (text) => chat ? { message: { role: 'assistant', content: text } }
                                : { response: text };
    let whole = '', count = 0, reason = 'stop';
    if (stream)
        response.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    await events(reply, (text, finish) => {
        if (finish) reason = finish === 'length' ? 'length' : 'stop';
        if (!text) return;
        count++;
        whole += text;
        if (stream)
            response.write(JSON.stringify({ model: request.model, created_at: created(),
                                            ...part(text), done: false }) + '\n');
    });
    const last = { model: request.model, created_at: created(), ...part(stream ? '' : whole),
                   done: true, done_reason: reason,
                   total_duration: Number(process.hrtime.bigint() - started), eval_count: count };
    if (stream)
        response.end(JSON.stringify(last) + '\n');
    else
        json(response, 200, last);
}

// POST /api/embed (and the older /api/embeddings: "prompt", one vector).
async function embed (request, response, older) {
    const input = older ? request.prompt : request.input;
    const reply = await upstream('/v1/embeddings', { model: request.model, input });
    if (!reply.ok)
        return failed(response, reply);
    const value = await reply.json();
    const vectors = value.data.map((item) => item.embedding);
    if (older)
        return json(response, 200, { embedding: vectors[0] });
    json(response, 200, { model: request.model, embeddings: vectors,
                          prompt_eval_count: value.usage?.prompt_tokens ?? 0 });
}

// POST /api/generate without a prompt: load the model (the router's load).
async function load (request, response) {
    const reply = await upstream('/models/load', { model: request.model });
    if (!reply.ok && reply.status !== 400)
        return failed(response, reply);
    json(response, 200, { model: request.model, created_at: new Date().toISOString(),
                          response: '', done: true, done_reason: 'load' });
}

// GET /api/ps and /api/tags from the router's /models.
async function models (response, loadedOnly) {
    const reply = await fetch(llama + '/models');
    const value = await reply.json();
    const list = (value.data || []).filter((m) => !loadedOnly || m.status?.value === 'loaded')
        .map((m) => ({ name: m.id, model: m.id, size: 0, size_vram: 0 }));
    json(response, 200, { models: list });
}

const server = http.createServer(async (request, response) => {
    try {
        const path = request.url.split('?')[0];
        if (request.method === 'GET' && path === '/api/version')
            return json(response, 200, { version: '0.0.0-shim' });
        if (request.method === 'GET' && (path === '/api/ps' || path === '/api/tags'))
            return await models(response, path === '/api/ps');
        if (request.method !== 'POST')
            return json(response, 404, { error: `no route ${request.method} ${path}` });
        const value = await body(request);
        if (value === null)
            return json(response, 400, { error: 'invalid JSON' });
        if (path === '/api/chat')
            return await generate(value, response, true);
        if (path === '/api/generate')
            return value.prompt ? await generate(value, response, false) : await load(value, response);
        if (path === '/api/embed' || path === '/api/embeddings')
            return await embed(value, response, path === '/api/embeddings');
        json(response, 404, { error: `no route POST ${path}` });
    } catch (error) {
        if (!response.headersSent)
            json(response, 502, { error: String(error) });
        else
            response.destroy();
    }
});
server.listen(port, '127.0.0.1', () => console.log(`ollama-shim: listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
