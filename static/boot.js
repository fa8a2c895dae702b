// Loads the Rekey app: the wasm-bindgen module fetches and starts rekey_frontend_bg.wasm,
// whose start function mounts the app on <body>.
import init from '/pkg/rekey_frontend.js';

init({ module_or_path: '/pkg/rekey_frontend_bg.wasm' }).catch((error) => {
  const message = document.createElement('p');
  message.setAttribute('role', 'alert');
  message.className = 'notice error';
  message.textContent = `Rekey could not start: ${error}. Reload the page; if this persists, ` +
    'the browser may not support WebAssembly.';
  document.body.append(message);
  console.error(error);
});
