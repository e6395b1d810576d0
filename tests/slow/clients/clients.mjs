// ===========================================================================
// clients.mjs - the official `openai` and `ollama` client libraries, each
// run straight at its server and then through warmup's proxy: a streamed
// chat and an embedding each, greedy (temperature 0, a seed), so both runs
// must give the same content. Prints one JSON line with what each got;
// exits 1 when a pair differs or came back empty.
//
// Usage: node clients.mjs --proxy URL --llama URL --ollama URL --key KEY
//   --llama: llama-server (OpenAI routes); --ollama: the Ollama server (in
//   the tests, ollama-shim.mjs in front of llama-server); KEY: the OpenAI
//   client's API key, which the proxy counts as the user (hashed).
// Models (llama-server presets): tiny-a (chat) and tiny-a-embed through
// the OpenAI client, tiny-b (chat) and tiny-b-embed through Ollama's.
// ===========================================================================
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) =>
    (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
for (const key of ['proxy', 'llama', 'ollama', 'key'])
    if (!args[key]) {
        console.error(`clients.mjs: --${key} is required`);
        process.exit(2);
    }
const messages = [{ role: 'user', content: 'Write a C function that adds two numbers.' }];

async function openaiChat (base) {
    const client = new OpenAI({ baseURL: base + '/v1', apiKey: args.key, maxRetries: 0 });
    const stream = await client.chat.completions.create({
        model: 'tiny-a', messages, stream: true, max_tokens: 4, temperature: 0, seed: 7 });
    let text = '', chunks = 0;
    for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        chunks++;
    }
    return { text, chunks };
}

async function openaiEmbed (base) {
    const client = new OpenAI({ baseURL: base + '/v1', apiKey: args.key, maxRetries: 0 });
    const reply = await client.embeddings.create({ model: 'tiny-a-embed', input: 'hello world',
                                                   encoding_format: 'float' });
    return reply.data[0].embedding;
}

async function ollamaChat (host) {
    const client = new Ollama({ host });
    const stream = await client.chat({ model: 'tiny-b', messages, stream: true,
                                       options: { temperature: 0, seed: 7, num_predict: 4 } });
    let text = '', chunks = 0;
    for await (const part of stream) {
        text += part.message.content;
        chunks++;
    }
    return { text, chunks };
}

async function ollamaEmbed (host) {
    const client = new Ollama({ host });
    const reply = await client.embed({ model: 'tiny-b-embed', input: 'hello world' });
    return reply.embeddings[0];
}

// The same vector, number for number.
const same = (a, b) => Array.isArray(a) && a.length > 0 && a.length === b.length
                       && a.every((x, i) => x === b[i]);

const result = {};
let ok = true;
for (const [name, chat, embed, direct] of [['openai', openaiChat, openaiEmbed, args.llama],
                                           ['ollama', ollamaChat, ollamaEmbed, args.ollama]]) {
    const chatDirect = await chat(direct);
    const chatProxy = await chat(args.proxy);
    const embedDirect = await embed(direct);
    const embedProxy = await embed(args.proxy);
    const entry = {
        chat_direct: chatDirect.text, chat_proxy: chatProxy.text,
        chunks_direct: chatDirect.chunks, chunks_proxy: chatProxy.chunks,
        chat_equal: chatDirect.text.length > 0 && chatDirect.text === chatProxy.text,
        embed_dims: embedProxy.length, embed_equal: same(embedDirect, embedProxy),
    };
    ok = ok && entry.chat_equal && entry.embed_equal && chatProxy.chunks > 1;
    result[name] = entry;
}
console.log(JSON.stringify(result));
process.exit(ok ? 0 : 1);
