// Runs the Restreamer UI's calls (src/utils/api.js: fetch with JSON and a Bearer token) against
// the API named by ?api= (empty: this page's own origin) and leaves the outcome in
// window.checkResult. ?mode=none|login|register, ?user=, ?password=, ?run=1 starts a process.
(async () => {
  const params = new URLSearchParams(window.location.search);
  const api = params.get('api') || '';
  const mode = params.get('mode') || 'none';
  const user = params.get('user') || 'admin';
  const password = params.get('password') || '';
  const pid = params.get('pid') || 'browser-check';
  const result = { steps: {}, error: null };
  let token = '';

  const log = (line) => { document.getElementById('log').textContent += line + '\n'; };
  const call = async (method, path, body, contentType) => {
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
    const options = { method, headers };
    if (body !== undefined) options.body = contentType ? body : JSON.stringify(body);
    const response = await fetch(api + path, options);
    const type = response.headers.get('Content-Type') || '';
    const data = type.includes('application/json') ? await response.json() : await response.text();
    log(`${method} ${path} -> ${response.status}`);
    return { status: response.status, data };
  };
  const login = async () => {
    const answer = await call('POST', '/api/login', { username: user, password });
    token = answer.data.access_token || '';
    return answer.status;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  try {
    const about = await call('GET', '/api');
    result.steps.about = { status: about.status, app: about.data.app, auths: about.data.auths };
    if (mode === 'register') {
      const config = await call('GET', '/api/v3/config');
      result.steps.overrides = config.data.overrides;
      const put = await call('PUT', '/api/v3/config',
        { api: { auth: { enable: true, username: user, password } }, version: 3 });
      result.steps.register = put.status;
      result.steps.reload = (await call('GET', '/api/v3/config/reload')).status;
      result.steps.unauthorized = (await call('GET', '/api/v3/process')).status;
    }
    if (mode === 'login' || mode === 'register') {
      result.steps.login = await login();
    }
    const config = await call('GET', '/api/v3/config');
    result.steps.config = { status: config.status, auth: config.data.config.api.auth.enable };
    result.steps.skills = (await call('GET', '/api/v3/skills')).status;
    const metrics = await call('POST', '/api/v3/metrics',
      { metrics: [{ name: 'cpu_ncpu' }, { name: 'mem_total' }] });
    result.steps.metrics = metrics.data.metrics.map((m) => m.name).sort();
    const page = '/channels/' + pid + '/player.html';
    result.steps.publish = (await call('PUT', '/api/v3/fs/disk' + page, '<h1>player</h1>', 'text/html')).status;
    result.steps.published = (await call('GET', page)).data;
    result.steps.sessions = Object.keys((await call('GET', '/api/v3/session/active?collectors=hls,ffmpeg')).data).sort();
    if (params.get('run') === '1') {
      const create = await call('POST', '/api/v3/process', {
        id: pid,
        options: ['-loglevel', 'info'],
        input: [{ id: 'in', address: 'testsrc2=size=320x240:rate=25', options: ['-f', 'lavfi', '-re'] }],
        output: [{ id: 'out', address: '{memfs}/' + pid + '.m3u8',
          options: ['-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'hls', '-hls_time', '1'] }],
        autostart: true,
      });
      result.steps.create = create.status;
      let fps = 0;
      for (let i = 0; i < 60 && fps === 0; i++) {
        await sleep(500);
        const state = await call('GET', '/api/v3/process/' + pid + '/state');
        if (state.data.exec === 'running') fps = state.data.progress.fps;
      }
      result.steps.fps = fps;
      result.steps.stop = (await call('PUT', '/api/v3/process/' + pid + '/command', { command: 'stop' })).status;
      result.steps.remove = (await call('DELETE', '/api/v3/process/' + pid)).status;
    }
    result.steps.unpublish = (await call('DELETE', '/api/v3/fs/disk' + page)).status;
  } catch (error) {
    result.error = String(error);
    log('error: ' + error);
  }
  window.checkResult = result;
})();
