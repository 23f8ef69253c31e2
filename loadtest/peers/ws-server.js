// The Node `ws` broadcast server the fan-out scenario measures beside Draftline: a
// client on `/publish` is the publisher, and each text frame it sends goes to every
// other client, as in the `ws` README's broadcast example. No Redis, no durability.
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

wss.on('connection', (socket, request) => {
  if (request.url !== '/publish') return;
  socket.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== socket && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
});
wss.on('listening', () => console.log(`ws broadcast server on 127.0.0.1:${port}`));
