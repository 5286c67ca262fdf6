// The operators' live feed, ws(s)://HOST/ws/live (messages in web/live_feed.h: hello, case,
// escalation, alarm, tick, resync). The session cookie authenticates the upgrade. After a
// disconnect it reconnects with exponential backoff (1 s doubling to 30 s, with jitter); every
// (re)connection but the first, and every {"type":"resync"}, asks the page to resync (refetch),
// since updates may have been missed meanwhile.
//
// A close 1008 "credentials no longer valid" (signed out elsewhere, account disabled, scope
// changed) is also told to onCredentialsEnded, which may close the feed.
//
//   const feed = connectLive({onMessage(msg), onResync(reason), onState(state, detail),
//                             onCredentialsEnded()});
//   feed.close();
// onState: 'connecting' | 'online' | 'offline' ({retryInSeconds}).

const kMinBackoffMs = 1000;
const kMaxBackoffMs = 30000;

export function connectLive({ onMessage, onResync, onState = () => {}, onCredentialsEnded = () => {} }) {
  let ws = null;
  let closed = false;
  let backoff = kMinBackoffMs;
  let connectedBefore = false;
  let timer = null;

  function open() {
    if (closed) return;
    onState('connecting', {});
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/live`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      backoff = kMinBackoffMs;
      onState('online', {});
      if (connectedBefore) onResync('reconnected');
      connectedBefore = true;
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;  // not ours to interpret
      }
      if (msg.type === 'resync') onResync(msg.reason || 'resync');
      else onMessage(msg);
    };
    ws.onclose = (e) => {
      ws = null;
      if (closed) return;
      const delay = Math.min(kMaxBackoffMs, backoff) * (0.75 + Math.random() * 0.5);
      backoff = Math.min(kMaxBackoffMs, backoff * 2);
      onState('offline', { retryInSeconds: Math.round(delay / 1000) });
      timer = setTimeout(open, delay);
      if (e.code === 1008 && e.reason === 'credentials no longer valid') onCredentialsEnded();
    };
  }

  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    },
    // For tests and the "reconnect now" case: drop the socket as a network failure would.
    drop() {
      ws?.close();
    },
  };
}
