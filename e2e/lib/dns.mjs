// A tiny DNS server for the e2e tests (issue 12, domain verification): answers TXT queries over
// UDP on 127.0.0.1 from a table the test fills, NXDOMAIN for names it has nothing for. Gatehouse
// is pointed at it with `--dns-server 127.0.0.1:<port>`. Hand-rolled: one question, TXT answers
// (RFC 1035 §4.1), no compression beyond a pointer to the question's name.

import dgram from 'node:dgram';

/** Starts the server; resolves `{ port, serveArgs, setTxt(name, values), close() }`. */
export async function startDnsServer() {
  const records = new Map();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const answer = respond(msg, records);
    if (answer) socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.unref();
  const { port } = socket.address();
  return {
    port,
    serveArgs: ['--dns-server', `127.0.0.1:${port}`],
    setTxt(name, values) {
      records.set(name.toLowerCase().replace(/\.$/, ''), values);
    },
    close() {
      socket.close();
    },
  };
}

function respond(msg, records) {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return null;
  // The first question: labels, then QTYPE and QCLASS.
  let offset = 12;
  const labels = [];
  while (offset < msg.length && msg[offset] !== 0) {
    const len = msg[offset];
    if (len > 63 || offset + 1 + len > msg.length) return null;
    labels.push(msg.subarray(offset + 1, offset + 1 + len).toString('latin1'));
    offset += 1 + len;
  }
  offset += 1;
  if (offset + 4 > msg.length) return null;
  const qtype = msg.readUInt16BE(offset);
  const question = msg.subarray(12, offset + 4);
  const name = labels.join('.').toLowerCase();
  const values = records.get(name);
  const answers = values && qtype === 16 ? values.map(txtRecord) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
  const rd = msg[2] & 0x01;
  header[2] = 0x84 | rd; // QR, AA, RD as asked
  header[3] = 0x80 | (values ? 0 : 3); // RA; NXDOMAIN when the name is unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

function txtRecord(value) {
  const bytes = Buffer.from(value, 'utf8');
  const strings = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    strings.push(Buffer.from([chunk.length]), chunk);
    if (bytes.length === 0) break;
  }
  const rdata = Buffer.concat(strings);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // the question's name
  rr.writeUInt16BE(16, 2); // TXT
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(60, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}
