// The Node `ws` broadcast server the fan-out scenarios measure beside Draftline, with
// topics: a subscriber connects to `/?topic=T`; a client on `/publish` is the publisher,
// and each text frame `T PAYLOAD` it sends goes, as PAYLOAD, to every subscriber of T,
// a per-topic version of the `ws` README's broadcast example. No Redis, no durability.
// Listens on 127.0.0.1:$PORT.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be a port number');
  process.exit(2);
}

// The backlog of 1,024 matches the harness's connects in flight (200) with room to spare.
const wss = new WebSocketServer({ host: '127.0.0.1', port, backlog: 1024, perMessageDeflate: false });

// Subscribers by topic.
const topics = new Map();
const SPACE = 0x20;

wss.on('connection', (socket, request) => {
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname === '/publish') {
    socket.on('message', (data, isBinary) => {
      const space = data.indexOf(SPACE);
      if (space < 0) return;
      const subscribers = topics.get(data.toString('latin1', 0, space));
      if (!subscribers) return;
      // One Buffer for every subscriber, as the broadcast example sends `data`.
      const payload = data.subarray(space + 1);
      for (const client of subscribers) {
        if (client.readyState === WebSocket.OPEN) client.send(payload, { binary: isBinary });
      }
    });
    return;
  }
  const topic = url.searchParams.get('topic') ?? '';
  let subscribers = topics.get(topic);
  if (!subscribers) {
    subscribers = new Set();
    topics.set(topic, subscribers);
  }
  subscribers.add(socket);
  socket.on('close', () => {
    subscribers.delete(socket);
    if (subscribers.size === 0 && topics.get(topic) === subscribers) topics.delete(topic);
  });
});
wss.on('listening', () => console.log(`ws broadcast server on 127.0.0.1:${port}`));
