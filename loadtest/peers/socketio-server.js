// The Socket.IO 4 server the fan-out scenario measures beside Draftline, with
// `@socket.io/redis-adapter` so a broadcast also goes through Redis as it would between
// nodes. A client connecting with `?role=publisher` emits `publish` events with a
// topic and a text, each text sent to the topic's room as an `event`; every other
// client joins the room named by its `?topic=`. WebSocket transport only. Listens on 127.0.0.1:$PORT; Redis at $REDIS_URL, channels under
// $REDIS_PREFIX.
'use strict';
const { createServer } = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { Redis } = require('ioredis');

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be a port number');
  process.exit(2);
}
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const key = process.env.REDIS_PREFIX || 'socket.io';

const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer();
const io = new Server(http, {
  adapter: createAdapter(pub, sub, { key }),
  transports: ['websocket'],
  perMessageDeflate: false,
});

io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'publisher') {
    socket.on('publish', (topic, text) => io.to(topic).emit('event', text));
  } else {
    socket.join(String(socket.handshake.query.topic ?? ''));
  }
});

http.listen({ host: '127.0.0.1', port, backlog: 1024 }, () =>
  console.log(`socket.io server on 127.0.0.1:${port}`),
);
