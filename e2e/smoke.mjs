// Browser smoke test for yilian (医联). Run from the repo root against a running server:
//   node e2e/smoke.mjs
// Env: BASE_URL (default http://127.0.0.1:18080), E2E_PASSWORD (default yilian-demo),
//      CHROMIUM (default /usr/bin/chromium).
// playwright-core is resolved from web/node_modules (run `npm install` in web/ first).
// Screenshots go to e2e/artifacts/. Exit code 0 = all PASS, 1 = any FAIL.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const PASSWORD = process.env.E2E_PASSWORD || 'yilian-demo';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = 10_000;
const TOTAL_TIMEOUT = 300_000;
const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'];
const MASK = '**********';
const FULL_ID = /\d{17}[\dX]/;

const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
mkdirSync(artifacts, { recursive: true });

let chromium;
try {
  const require = createRequire(new URL('../web/package.json', import.meta.url));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log(`FAIL load playwright-core from web/node_modules (run \`npm install\` in web/): ${e.message}`);
  process.exit(1);
}

let failures = 0;
let shot = 0;
const url = (path) => BASE_URL + path;

async function step(name, page, fn) {
  try {
    const detail = await fn();
    console.log(`PASS ${name}${detail ? ` — ${detail}` : ''}`);
    return true;
  } catch (e) {
    failures++;
    const msg = String(e?.message || e).split('\n')[0];
    console.log(`FAIL ${name} — ${msg}`);
    if (page && !page.isClosed()) {
      const file = `${artifacts}fail-${++shot}.png`;
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`     page: ${page.url()}  screenshot: ${file}`);
    }
    return false;
  }
}
const skip = (name, why) => console.log(`SKIP ${name} — ${why}`);
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function watch(page, label) {
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT);
  page.on('pageerror', (err) => {
    failures++;
    console.log(`FAIL [${label}] JavaScript error on ${page.url()}: ${err.message}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 500) {
      failures++;
      console.log(`FAIL [${label}] HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
    }
  });
}

// Logs in via the form; resolves once the logged-in nav (or a login error) appears.
async function login(page, username) {
  await page.goto(url('/login'));
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.locator('nav.main, p.error').first().waitFor();
  const err = page.locator('p.error');
  if (await err.count()) throw new Error(`login as ${username} rejected: ${(await err.first().innerText()).trim()}`);
}

// Types q into #q and waits until htmx has replaced #results; returns the number of resident links.
async function searchResidents(page, q) {
  await page.evaluate(() => {
    const marker = document.createElement('i');
    marker.hidden = true;
    marker.dataset.e2eStale = '1';
    document.querySelector('#results').appendChild(marker);
  });
  await page.locator('#q').fill(q);
  await page
    .waitForFunction(
      () =>
        !document.querySelector('#results [data-e2e-stale]') &&
        !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'),
      null,
      { timeout: STEP_TIMEOUT },
    )
    .catch(() => {
      throw new Error(`htmx did not refresh #results for q=${q} (is /assets/htmx.min.js served?)`);
    });
  return page.locator('#results table.list tbody tr a').count();
}

console.log(`smoke: ${BASE_URL} with ${CHROMIUM}`);
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Chromium is an environment component: a machine may be slow to start it the first time (font
// caches) or unable to start it at all. Try three times with generous limits and Chromium's own
// log kept; if it never starts, say so loudly and stop — the product was not exercised, so this is
// neither a pass nor a product failure (exit code 3, which `make e2e` reports as a loud skip).
let browser;
for (let attempt = 1; !browser; attempt++) {
  const log = [];
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000 * attempt,
      args: LAUNCH_ARGS,
      logger: { isEnabled: () => true, log: (name, _sev, msg) => log.push(`[${name}] ${msg}`) },
    });
  } catch (e) {
    console.log(`launch attempt ${attempt} failed: ${String(e.message).split('\n')[0]}`);
    console.log(log.slice(-30).map((l) => `    ${l}`).join('\n'));
    if (attempt === 3) {
      console.log(`SKIP browser journeys: Chromium at ${CHROMIUM} could not be started on this machine`);
      process.exit(3);
    }
  }
}

const watchdog = setTimeout(() => {
  console.log(`FAIL whole run exceeded ${TOTAL_TIMEOUT / 1000}s`);
  process.exit(1);
}, TOTAL_TIMEOUT);
watchdog.unref();

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'desktop');

  // ---- village doctor: login → 居民查询 → search → detail ----
  const loggedIn = await step('村医 cunyi 登录后进入工作台', page, async () => {
    await login(page, 'cunyi');
    await page.locator('h1', { hasText: '工作台' }).waitFor();
  });

  await step('静态资源 /assets/htmx.min.js 与 /assets/app.css', page, async () => {
    for (const path of ['/assets/htmx.min.js', '/assets/app.css']) {
      const res = await page.request.get(url(path), { timeout: STEP_TIMEOUT });
      check(res.ok(), `${path} → HTTP ${res.status()}`);
    }
    const ff = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
    check(/PingFang|Noto Sans CJK|YaHei/.test(ff), `app.css not applied (body font-family: ${ff})`);
  });

  let surname = null;
  let onResidents = false;
  if (loggedIn) {
    onResidents = await step('导航“居民查询”', page, async () => {
      await page.locator('nav.main a', { hasText: '居民查询' }).first().click();
      await page.waitForURL((u) => u.pathname === '/residents');
      await page.locator('#q').waitFor();
    });
  } else skip('导航“居民查询”', 'not logged in');

  let found = false;
  if (onResidents) {
    found = await step('按姓氏检索居民（htmx 实时结果）', page, async () => {
      const tried = [];
      for (const s of SURNAMES) {
        const n = await searchResidents(page, s);
        tried.push(`${s}:${n}`);
        if (n > 0) {
          surname = s;
          return `“${s}” → ${n} 条链接`;
        }
      }
      throw new Error(`no resident rows for any surname (${tried.join(' ')})`);
    });
  } else skip('按姓氏检索居民（htmx 实时结果）', 'residents page not reached');

  if (found) {
    await step('列表中身份证号已脱敏', page, async () => {
      const text = await page.locator('#results table.list tbody').innerText();
      check(text.includes(MASK), `no "${MASK}" in results`);
      check(!FULL_ID.test(text), 'an unmasked 18-digit ID number appears in the list');
    });
    await step('居民详情页显示电子健康卡号与完整身份证号', page, async () => {
      const link = page.locator('#results table.list tbody tr a').first();
      const name = (await link.innerText()).trim();
      await link.click();
      await page.waitForURL((u) => /^\/residents\/[^/]+$/.test(u.pathname));
      const facts = page.locator('dl.facts');
      await facts.waitFor();
      const h1 = await page.locator('h1').innerText();
      check(h1.includes(name), `h1 "${h1}" does not contain "${name}"`);
      check((await page.locator('main').innerText()).includes('电子健康卡号'), '“电子健康卡号” not on page');
      const idRow = page.locator('dl.facts > div', { has: page.locator('dt', { hasText: '身份证号' }) });
      const idText = (await idRow.count()) ? (await idRow.locator('dd').innerText()).trim() : await facts.innerText();
      check(FULL_ID.test(idText), `no whole 18-character ID number in .facts (${idText.slice(0, 40)})`);
      return `${name} ${idText.match(FULL_ID)[0].slice(0, 6)}…`;
    });
  } else skip('居民详情页', 'no search result to open');

  // ---- phone width (390×844): residents page must not overflow horizontally ----
  if (loggedIn) {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      storageState: await ctx.storageState(),
    });
    const mp = await phone.newPage();
    watch(mp, 'phone');
    await step('手机宽度 390px 居民查询页无横向溢出', mp, async () => {
      await mp.goto(url(`/residents?q=${encodeURIComponent(surname || '王')}`));
      await mp.locator('#q').waitFor();
      const m = await mp.evaluate(() => {
        const nav = document.querySelector('nav.main')?.getBoundingClientRect();
        return {
          vw: document.documentElement.clientWidth,
          sw: document.documentElement.scrollWidth,
          navLeft: nav ? nav.left : 0,
          navRight: nav ? nav.right : 0,
        };
      });
      const file = `${artifacts}residents-390.png`;
      await mp.screenshot({ path: file, fullPage: true });
      check(m.navLeft >= -1 && m.navRight <= m.vw + 1, `nav.main spans ${m.navLeft}..${m.navRight} of ${m.vw}px`);
      check(m.sw <= m.vw + 1, `page scrollWidth ${m.sw}px > viewport ${m.vw}px`);
      return `screenshot ${file}`;
    });
    await phone.close();
  } else skip('手机宽度 390px', 'not logged in');

  // ---- resident: log out, log in as jumin, /me, 长者模式 ----
  if (loggedIn) {
    await step('退出登录', page, async () => {
      await page.locator('.who button', { hasText: '退出' }).click();
      await page.locator('nav.main').waitFor({ state: 'detached' });
    });
  }
  await ctx.clearCookies();

  const resident = await step('居民 jumin 登录并打开“我的健康档案”', page, async () => {
    await login(page, 'jumin');
    await page.goto(url('/me'));
    await page.locator('.elder-switch button').waitFor();
    check((await page.locator('main').innerText()).includes('电子健康卡号'), '“电子健康卡号” not on /me');
  });

  if (resident) {
    const toggle = page.locator('.elder-switch button');
    if (await page.locator('body.elder').count()) {
      // Preference persisted from an earlier run: switch back first so the check starts from 标准模式.
      await toggle.click();
      await page.locator('body:not(.elder)').waitFor();
      await page.goto(url('/me'));
    }
    const elderOn = await step('切换长者模式：body.elder 且字号 ≥ 20px', page, async () => {
      await page.locator('.elder-switch button', { hasText: '长者模式' }).click();
      await page.locator('body.elder').waitFor();
      const px = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      check(px >= 20, `body font-size ${px}px < 20px`);
      return `${px}px`;
    });
    if (elderOn) {
      await step('长者模式下按钮触控尺寸 ≥ 48px', page, async () => {
        if (new URL(page.url()).pathname !== '/me') await page.goto(url('/me'));
        await page.locator('body.elder').waitFor();
        const box = await page.locator('.elder-switch button').boundingBox();
        check(box && box.height >= 48, `button height ${box?.height}px`);
        await page.screenshot({ path: `${artifacts}me-elder.png`, fullPage: true });
        return `${Math.round(box.height)}px`;
      });
      await step('切回标准模式', page, async () => {
        await page.locator('.elder-switch button', { hasText: '标准模式' }).click();
        await page.locator('body:not(.elder)').waitFor();
      });
    }
  } else skip('长者模式', 'resident login failed');

  // ---- village doctor: household signing → follow-up turns a patient red → work list ----
  await ctx.clearCookies();
  await step('村医 cunyi 再次登录（签约与慢病）', page, async () => {
    await login(page, 'cunyi');
    await page.goto(url('/care'));
    await page.locator('h1', { hasText: '团队工作台' }).waitFor();
  });
  let signedName = null;
  await step('家庭签约：为一户未签约家庭签约', page, async () => {
    for (const surname of SURNAMES) {
      await page.goto(url(`/residents?q=${encodeURIComponent(surname)}`));
      const links = await page.locator('#results table.list tbody tr a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      for (const href of links.slice(0, 15)) {
        await page.goto(url(href));
        const household = page.locator('#contract a.button', { hasText: '家庭签约' });
        if (!(await household.count())) continue;
        // A resident not yet in chronic care, so the work list can be seen to change.
        if (!(await page.locator('#chronic').innerText()).includes('未纳入慢病管理')) continue;
        const name = (await page.locator('h1').innerText()).split(/\s/)[0];
        await household.click();
        await page.locator('form[action="/care/sign"] button[type="submit"]').click();
        await page.waitForLoadState();
        if (await page.locator('p.error').count()) continue; // a member was already signed: try another family
        await page.goto(url(href)); // signing returns to the household's first member
        const contract = await page.locator('#contract').innerText();
        check(contract.includes('签约团队'), 'resident page does not show the contract');
        signedName = name;
        return `${name} 的家庭已签约`;
      }
    }
    throw new Error('no unsigned household found in the village');
  });
  const residentPage = page.url();
  await step('签约后该居民尚不在30天工作清单中', page, async () => {
    check(signedName, 'no signed resident');
    await page.goto(url('/care?window=30'));
    await page.locator('h1', { hasText: '团队工作台' }).waitFor();
    check(!(await page.locator('table.list tbody tr', { hasText: signedName }).count()), `${signedName} already listed`);
    await page.goto(residentPage);
  });
  await step('纳入高血压管理并记录一次血压危象随访 → 风险变为红色', page, async () => {
    check(signedName, 'no signed resident');
    await page.locator('summary', { hasText: '纳入管理' }).first().click();
    const panel = page.locator('form[action="/care/enrolments"]');
    await panel.locator('select[name="program"]').selectOption('hypertension');
    await panel.locator('input[name="sbp"]').fill('150');
    await panel.locator('input[name="dbp"]').fill('92');
    await panel.locator('button[type="submit"]', { hasText: '纳入管理' }).click();
    await page.waitForURL((u) => /^\/care\/enrolments\/\d+$/.test(u.pathname));
    await page.locator('input[name="sbp"]').fill('186');
    await page.locator('input[name="dbp"]').fill('112');
    await page.locator('button[type="submit"]', { hasText: '保存随访' }).click();
    await page.waitForLoadState();
    await page.locator('h1 .risk-red').waitFor();
  });
  await step('工作清单变化：该居民以红色（高危）出现在30天清单中', page, async () => {
    await page.goto(url('/care?window=30'));
    const row = page.locator('table.list tbody tr', { hasText: signedName });
    await row.first().waitFor();
    check(await row.locator('.risk-red').count(), `no red badge on ${signedName}'s row`);
    await page.screenshot({ path: `${artifacts}care-worklist.png`, fullPage: true });
  });

  // ---- two-way referral: village doctor refers up → county desk accepts and schedules →
  //      the resident sees the appointment → the county refers down → the village work list ----
  const as = async (who) => {
    await ctx.clearCookies();
    await login(page, who);
  };
  const state = async () => (await page.locator('h1 .state').innerText()).trim();
  const event = async (label) => {
    await page.locator('#actions button', { hasText: label }).first().click();
    await page.waitForLoadState();
    const err = page.locator('#action-error');
    if (await err.count()) throw new Error(`${label}: ${(await err.innerText()).trim()}`);
  };
  // Submits the referral form; a rule that needs a stated reason is shown on the form first.
  const submitReferral = async () => {
    await page.locator('form.referral-form button[type="submit"]').click();
    await page.waitForLoadState();
    let finding = null;
    if (await page.locator('#form-error').count()) {
      finding = (await page.locator('#form-error').innerText()).split('\n')[0].trim();
      await page.locator('textarea[name="justification"]').fill('患者及家属要求，经家庭医生评估需上级医院进一步诊治');
      await page.locator('form.referral-form button[type="submit"]').click();
      await page.waitForLoadState();
    }
    if (await page.locator('#form-error').count()) throw new Error((await page.locator('#form-error').innerText()).trim());
    const m = new URL(page.url()).pathname.match(/^\/referrals\/(\d+)$/);
    check(m, `not on a referral page after submitting: ${page.url()}`);
    return { id: m[1], finding };
  };

  let me = null;
  await step('转诊：居民 jumin 的姓名与电子健康卡号', page, async () => {
    await as('jumin');
    await page.goto(url('/me'));
    const name = (await page.locator('.hello').innerText()).split('，')[0].trim();
    const card = (await page.locator('dl.facts > div', { has: page.locator('dt', { hasText: '电子健康卡号' }) }).locator('dd').innerText()).trim();
    check(name && card, 'name or card not on /me');
    me = { name, card };
    return `${name} ${card}`;
  });

  let up = null;
  let residentHref = null;
  if (me) {
    up = await step('村医发起上转：规则提示在提交前显示，补充理由后提交', page, async () => {
      await as('cunyi');
      await page.goto(url(`/residents?q=${encodeURIComponent(me.card)}`));
      await page.locator('#results table.list tbody tr a').first().click();
      await page.waitForURL((u) => /^\/residents\/\d+$/.test(u.pathname));
      residentHref = new URL(page.url()).pathname;
      await page.locator('#referrals a.button', { hasText: '发起转诊' }).click();
      await page.waitForURL((u) => u.pathname === '/referrals/new');
      const hospital = page.locator('select[name="to_institution_code"] optgroup[label="本医联体内"] option', { hasText: '综合医院' }).first();
      const code = await hospital.getAttribute('value');
      await page.locator('select[name="to_institution_code"]').selectOption(code);
      await page.locator('input[name="to_department"]').fill('心内科');
      await page.locator('input[name="icd10"]').fill('I10');
      await page.locator('input[name="diagnosis"]').fill('原发性高血压');
      await page.locator('textarea[name="reason"]').fill('规范治疗3个月血压仍未达标，需调整治疗方案');
      const r = await submitReferral();
      check((await state()) === '已提交', `state ${await state()}`);
      return `转诊单 #${r.id}${r.finding ? `（提交前提示：${r.finding}）` : ''}`;
    }).then((ok) => (ok ? new URL(page.url()).pathname : null));
  } else skip('转诊旅程', 'resident not identified');

  let appointment = null;
  if (up) {
    await step('县医院转诊中心：收件箱中看到转诊单并接收', page, async () => {
      await as('zhuanzhen');
      await page.goto(url('/referrals'));
      const row = page.locator('#inbox tbody tr', { has: page.locator(`a[href="${up}"]`) });
      await row.waitFor();
      check((await row.innerText()).includes(me.name), `inbox row does not name ${me.name}`);
      await row.locator('a', { hasText: '处理' }).click();
      await page.waitForURL((u) => u.pathname === up);
      await event('接收');
      check((await state()) === '已接收', `state ${await state()}`);
    });
    appointment = await step('放号并为转诊预约号源（预约后状态“已预约”）', page, async () => {
      if (!(await page.locator('select[name="slot_id"]').count())) {
        await page.goto(url('/slots'));
        await page.locator('#open-slots input[name="department"]').fill('心内科');
        await page.locator('#open-slots button[type="submit"]').click();
        await page.locator('p.notice', { hasText: '已放号' }).waitFor();
        await page.goto(url(up));
      }
      const first = page.locator('select[name="slot_id"] option').first();
      const when = (await first.innerText()).trim().split('–')[0];
      await page.locator('select[name="slot_id"]').selectOption(await first.getAttribute('value'));
      await page.locator('#actions button', { hasText: '确认预约' }).click();
      await page.waitForLoadState();
      check((await state()) === '已预约', `state ${await state()}`);
      check((await page.locator('dl.facts').first().innerText()).includes(when), `appointment ${when} not shown`);
      return when;
    }).then((ok) => (ok ? page.locator('dl.facts').first().innerText() : null));
  }

  if (appointment) {
    await step('居民 jumin 在“我的健康档案”中看到待就诊预约', page, async () => {
      await as('jumin');
      await page.goto(url('/me'));
      const mine = await page.locator('#referrals').innerText();
      check(mine.includes('待就诊预约'), 'no upcoming appointment on /me');
      check(mine.includes('已预约'), 'referral state not shown on /me');
      await page.screenshot({ path: `${artifacts}me-referral.png`, fullPage: true });
    });
  }

  let down = null;
  let program = null;
  if (appointment) {
    down = await step('县医院到诊、完成后下转回村卫生室（出院小结与随访计划）', page, async () => {
      await as('zhuanzhen');
      await page.goto(url(up));
      await event('到诊');
      await event('完成');
      check((await state()) === '已完成', `state ${await state()}`);
      const clinic = (await page.locator('dl.facts > div', { has: page.locator('dt', { hasText: '转出机构' }) }).locator('dd').innerText()).trim();
      // A programme the resident is not yet managed in, so the hand-over is visible on the work list.
      await page.goto(url(residentHref));
      const chronic = await page.locator('#chronic').innerText();
      const choice = [
        ['I10', '原发性高血压', '高血压'],
        ['E11', '2型糖尿病', '2型糖尿病'],
        ['J44', '慢性阻塞性肺疾病', '慢阻肺'],
      ].find(([, , label]) => !chronic.includes(label));
      check(choice, 'resident already in every programme');
      program = choice[2];
      const rid = residentHref.split('/').pop();
      await page.goto(url(`/referrals/new?resident_id=${rid}&direction=down`));
      const target = page.locator('select[name="to_institution_code"] option', { hasText: clinic }).first();
      await page.locator('select[name="to_institution_code"]').selectOption(await target.getAttribute('value'));
      await page.locator('input[name="icd10"]').fill(choice[0]);
      await page.locator('input[name="diagnosis"]').fill(choice[1]);
      await page.locator('textarea[name="reason"]').fill('诊断明确、治疗方案确定、病情稳定，转回基层继续管理');
      await page.locator('textarea[name="summary"]').fill('住院7天，经调整用药后病情稳定出院。');
      await page.locator('textarea[name="follow_up_plan"]').fill('两周内由家庭医生随访，监测并记录，按出院医嘱用药。');
      const r = await submitReferral();
      return `下转单 #${r.id} 至 ${clinic}（${program}）`;
    }).then((ok) => (ok ? new URL(page.url()).pathname : null));
  }

  if (down) {
    await step('村医接收下转前：工作清单中尚无该居民的此项随访', page, async () => {
      await as('cunyi');
      await page.goto(url('/care?window=30'));
      const rows = page.locator('table.list tbody tr', { hasText: me.name }).filter({ hasText: program });
      check(!(await rows.count()), `${me.name} already listed for ${program}`);
    });
    await step('村医在收件箱接收下转 → 工作清单出现两周内到期的随访', page, async () => {
      await page.goto(url('/referrals'));
      const row = page.locator('#inbox tbody tr', { has: page.locator(`a[href="${down}"]`) });
      await row.waitFor();
      await row.locator('a', { hasText: '处理' }).click();
      await page.waitForURL((u) => u.pathname === down);
      check((await page.locator('main').innerText()).includes('住院7天'), 'discharge summary not handed over');
      await event('接收');
      check((await state()) === '已接收', `state ${await state()}`);
      await page.goto(url('/care?window=30'));
      const row2 = page.locator('table.list tbody tr', { hasText: me.name }).filter({ hasText: program });
      await row2.first().waitFor();
      const due = (await row2.first().locator('td.mono').innerText()).trim();
      // Dates are China Standard Time (UTC+8), as the server keeps them.
      const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
      const days = (new Date(due) - new Date(today)) / 86_400_000;
      check(days >= 0 && days <= 14, `follow-up due ${due} is not within two weeks`);
      await page.screenshot({ path: `${artifacts}referral-down-worklist.png`, fullPage: true });
      return `${me.name} ${program} 随访 ${due}`;
    });
  }

  // ---- shared health record: a specialist of the county TCM hospital (no treating relationship)
  //      is refused, the resident grants that hospital consent, the specialist reads, and the
  //      resident sees that read in their access log ----
  let recordPath = null;
  let tcm = null;
  if (me) {
    tcm = await step('管理员为县中医医院开通专科医生账号（API）', page, async () => {
      const api = page.request;
      const login = await api.post(url('/api/v1/auth/login'), { data: { username: 'admin', password: PASSWORD } });
      const token = (await login.json()).token;
      const auth = { authorization: `Bearer ${token}` };
      // A county hospital that has never written into jumin's record (the generated year gives
      // residents routine visits at county hospitals, and a visit is a treating relationship).
      const mine = await api.post(url('/api/v1/auth/login'), { data: { username: 'jumin', password: PASSWORD } });
      const own = await (await api.get(url('/api/v1/me/record?limit=1'), {
        headers: { authorization: `Bearer ${(await mine.json()).token}` },
      })).json();
      const seen = new Set((own.institutions || []).map(([id]) => id));
      let hospital = null;
      for (const kind of ['county_tcm_hospital', 'maternal_child_hospital']) {
        const list = await (await api.get(url(`/api/v1/institutions?kind=${kind}`), { headers: auth })).json();
        hospital = hospital || (list.items || []).find((i) => !seen.has(i.id));
      }
      check(hospital, 'every county hospital has treated the demo resident');
      const made = await api.post(url('/api/v1/users'), {
        headers: auth,
        data: { username: 'zhongyi', password: PASSWORD, role: 'specialist', scope: hospital.code },
      });
      check(made.status() === 201 || made.status() === 409, `create user → ${made.status()}`);
      tcm = hospital.name;
      return tcm;
    }).then((ok) => (ok ? tcm : null));
  }
  if (tcm) {
    await step('县中医医院专科医生无诊疗关系：调阅档案被拒并可申请紧急调阅', page, async () => {
      await as('zhongyi');
      await page.goto(url(`/residents?q=${encodeURIComponent(me.card)}`));
      await page.locator('#results table.list tbody tr a').first().click();
      await page.waitForURL((u) => /^\/residents\/\d+$/.test(u.pathname));
      await page.locator('a.button', { hasText: '健康档案' }).click();
      await page.waitForURL((u) => /^\/residents\/\d+\/record$/.test(u.pathname));
      recordPath = new URL(page.url()).pathname;
      await page.locator('#refused', { hasText: '无调阅依据' }).waitFor();
      check(await page.locator('button', { hasText: '紧急调阅' }).count(), 'no break-glass form');
    });
    await step('县医院接诊过该居民：转诊就诊与诊断已进入档案时间轴', page, async () => {
      await as('zhuanke');
      await page.goto(url(recordPath));
      await page.locator('#ground').waitFor();
      const text = await page.locator('#timeline').innerText();
      check(text.includes('转诊就诊') && text.includes('出院小结'), `timeline: ${text.slice(0, 200)}`);
      return (await page.locator('#ground strong').innerText()).trim();
    });
  }
  let granted = null;
  if (recordPath) {
    granted = await step('居民 jumin（长者模式）授权县中医医院调阅档案', page, async () => {
      await as('jumin');
      await page.goto(url('/me'));
      await page.locator('.elder-switch button', { hasText: '长者模式' }).click();
      await page.locator('body.elder').waitFor();
      await page.goto(url('/me/record'));
      await page.locator('body.elder').waitFor();
      const option = page.locator('select[name="grantee"] option', { hasText: tcm }).first();
      const hospital = (await option.innerText()).trim();
      await page.locator('select[name="grantee"]').selectOption(await option.getAttribute('value'));
      await page.locator('#consents button[type="submit"]', { hasText: '确认授权' }).click();
      await page.waitForURL((u) => u.pathname === '/me/record');
      const consents = await page.locator('#consents').innerText();
      check(consents.includes(hospital) && consents.includes('生效中'), `consent not shown: ${consents.slice(0, 200)}`);
      return hospital;
    }).then((ok) => ok);
  }
  if (granted) {
    await step('专科医生凭居民授权调阅档案', page, async () => {
      await as('zhongyi');
      await page.goto(url(recordPath));
      await page.locator('#ground', { hasText: '居民授权' }).waitFor();
    });
    await step('居民在“谁看过我的档案”中看到县中医医院的调阅（依据：居民授权）', page, async () => {
      await as('jumin');
      await page.goto(url('/me/record'));
      const row = page.locator('#access-log tbody tr', { hasText: '居民授权' }).first();
      await row.waitFor();
      const text = await row.innerText();
      check(text.includes(tcm) && text.includes('zhongyi'), `log row: ${text}`);
      check(await page.locator('#access-log tbody tr.refused').count(), 'the refused attempt is not listed');
      await page.screenshot({ path: `${artifacts}me-record-elder.png`, fullPage: true });
      // Back to standard mode for the next run, if the preference survived the new login.
      await page.goto(url('/me'));
      if (await page.locator('body.elder').count()) {
        await page.locator('.elder-switch button', { hasText: '标准模式' }).click();
        await page.locator('body:not(.elder)').waitFor();
      }
    });
  }

  // ---- test-result recognition: a county HbA1c from 40 days ago (lab in good standing, HR mark);
  //      the township doctor registers the visit, orders HbA1c and is shown that result ----
  let hba1c = null;
  if (recordPath) {
    hba1c = await step('县医院40天前的糖化血红蛋白结果（带HR标识，检验科室间质评合格）', page, async () => {
      const api = page.request;
      const token = async (u) =>
        (await (await api.post(url('/api/v1/auth/login'), { data: { username: u, password: PASSWORD } })).json()).token;
      const sp = { authorization: `Bearer ${await token('zhuanke')}` };
      const admin = { authorization: `Bearer ${await token('admin')}` };
      const rid = recordPath.split('/')[2];
      const chart = await (await api.get(url(`/api/v1/residents/${rid}/record?limit=500`), { headers: sp })).json();
      const county = chart.entries.items.find((e) => e.institution_name.includes('人民医院'));
      check(county, 'no county hospital entry in the record');
      const day = (n) => new Date(Date.now() + 8 * 3600_000 - n * 86_400_000).toISOString().slice(0, 10);
      const q = await api.post(url(`/api/v1/institutions/${county.institution_id}/lab-quality`), {
        headers: admin,
        data: { passed_on: day(200), valid_until: day(-165), assessor: '省临床检验中心' },
      });
      check(q.ok(), `lab quality → ${q.status()}`);
      const r = await api.post(url(`/api/v1/residents/${rid}/record`), {
        headers: sp,
        data: { kind: 'lab', code: 'hba1c', title: '糖化血红蛋白', value: '7.2', unit: '%', reference_range: '4.0-6.0', abnormal: true, hr_mark: true, occurred_at: `${day(40)}T00:00` },
      });
      check(r.status() === 201, `add result → ${r.status()}`);
      return county.institution_name;
    }).then((ok) => ok);
  }
  if (hba1c) {
    await step('乡镇卫生院医生登记就诊后，开单糖化血红蛋白并看到40天前的县医院结果', page, async () => {
      await as('jiceng');
      await page.goto(url(recordPath));
      if (await page.locator('#register-visit').count()) {
        await page.locator('#register-visit input[name="title"]').fill('门诊：血糖复查');
        await page.locator('#register-visit button[type="submit"]').click();
        await page.locator('#ground').waitFor();
      }
      await page.goto(url(recordPath.replace('/record', '/orders')));
      await page.locator('select[name="item_code"]').selectOption('hba1c');
      await page.locator('#choose-item button[type="submit"]').click();
      const found = page.locator('#recognizable');
      await found.waitFor();
      const text = await found.innerText();
      check(text.includes('人民医院') && text.includes('40 天前') && text.includes('HR'), `prompt: ${text.slice(0, 300)}`);
      await page.screenshot({ path: `${artifacts}recognition-prompt.png`, fullPage: true });
      await page.locator('#use-form button[type="submit"]').click();
      const placed = page.locator('#order-placed');
      await placed.waitFor();
      const done = await placed.innerText();
      check(done.includes('互认') && done.includes('节省'), `after use: ${done}`);
      return done.replace(/\s+/g, ' ').slice(0, 80);
    });
  }

  // ---- insurance: a county stay entered by the hospital, reviewed by the insurer on its pages,
  //      the consortium's budget burn-down chart, and the resident (elder mode) sees what they paid ----
  let claimId = null;
  if (recordPath) {
    await step('县医院为居民 jumin 录入一次住院费用（按当日有效政策结算）', page, async () => {
      const api = page.request;
      const login = await (await api.post(url('/api/v1/auth/login'), { data: { username: 'zhuanke', password: PASSWORD } })).json();
      const rid = Number(recordPath.split('/')[2]);
      const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
      const r = await api.post(url('/api/v1/claims'), {
        headers: { authorization: `Bearer ${login.token}` },
        data: { resident_id: rid, service_date: today, setting: 'inpatient',
          items: [{ category: 'beds', amount_fen: 80_000 }, { category: 'drugs', amount_fen: 250_000 }, { category: 'materials', amount_fen: 12_000, covered: false }] },
      });
      check(r.status() === 201, `enter claim → ${r.status()}`);
      const c = await r.json();
      check(c.fund_fen + c.resident_fen === c.total_fen, `shares do not add up: ${JSON.stringify(c)}`);
      claimId = c.id;
      return `#${c.id}: 基金 ${c.fund_yuan} 元，个人 ${c.resident_yuan} 元`;
    });
  }
  if (claimId) {
    await step('医保经办 yibao：审核并核定该结算单，规则说明逐条列出', page, async () => {
      await as('yibao');
      await page.goto(url(`/insurance/claims/${claimId}`));
      const rules = await page.locator('#rules').innerText();
      check(rules.includes('起付线') || rules.includes('转诊'), `rules: ${rules.slice(0, 200)}`);
      await page.locator('button', { hasText: '审核通过' }).click();
      await page.locator('button', { hasText: '核定支付' }).click();
      await page.locator('h1', { hasText: '已核定' }).waitFor();
    });
    await step('医保基金看板：医共体预算燃尽图、年终预测与县外流失', page, async () => {
      await page.goto(url('/insurance'));
      const pos = page.locator('section.position').first();
      await pos.waitFor();
      await pos.locator('.chart canvas').first().waitFor();
      const text = await pos.innerText();
      check(text.includes('年度预算') && text.includes('年终预测') && text.includes('县外就医'), `position: ${text.slice(0, 200)}`);
      await page.screenshot({ path: `${artifacts}insurance-dashboard.png`, fullPage: true });
    });
    await step('居民 jumin（长者模式）在“我的医保结算”看到个人支付与原因', page, async () => {
      await as('jumin');
      await page.goto(url('/me'));
      if (!(await page.locator('body.elder').count())) {
        await page.locator('.elder-switch button', { hasText: '长者模式' }).click();
        await page.locator('body.elder').waitFor();
      }
      await page.locator('a', { hasText: '我的医保结算' }).click();
      await page.locator('#paid-total').waitFor();
      const rows = await page.locator('#claims').innerText();
      check(rows.includes('已核定'), `claims: ${rows.slice(0, 200)}`);
      await page.screenshot({ path: `${artifacts}me-claims-elder.png`, fullPage: true });
      await page.goto(url('/me'));
      await page.locator('.elder-switch button', { hasText: '标准模式' }).click();
      await page.locator('body:not(.elder)').waitFor();
    });
  }

  // ---- surveillance: the CDC runs today's early warning over the generated five years of sentinel
  //      counts, opens a signal with its threshold chart, verifies and confirms it into an event ----
  let signalPath = null;
  await step('疾控 jikong：运行今日预警，信号地图与信号列表', page, async () => {
    await as('jikong');
    await page.goto(url('/surveillance'));
    await page.locator('#signal-map canvas').first().waitFor();
    await page.locator('button', { hasText: '运行预警' }).click();
    await page.waitForURL((u) => u.pathname === '/surveillance');
    const links = page.locator('#signals a', { hasText: '处置' });
    await page.screenshot({ path: `${artifacts}surveillance-dashboard.png`, fullPage: true });
    if (!(await links.count())) return 'no signal in the last two weeks of this county';
    signalPath = new URL(await links.first().getAttribute('href'), BASE_URL).pathname;
    return `${await links.count()} signals listed`;
  });
  if (signalPath) {
    await step('信号页：监测曲线与阈值线，开始核实并确认为事件', page, async () => {
      await page.goto(url(signalPath));
      if (await page.locator('#series-chart').count()) await page.locator('#series-chart canvas').first().waitFor();
      await page.screenshot({ path: `${artifacts}surveillance-signal.png`, fullPage: true });
      if (!(await page.locator('button', { hasText: '开始核实' }).count())) return 'already handled';
      await page.locator('button', { hasText: '开始核实' }).click();
      await page.locator('button', { hasText: '确认为事件' }).waitFor();
      await page.locator('#workflow input[name="note"]').first().fill('现场流调确认');
      await page.locator('button', { hasText: '确认为事件' }).click();
      await page.locator('#cases').waitFor();
      return (await page.locator('h1').innerText()).trim();
    });
  }

  // ---- monitoring: the health commission reads the plan's cards (binding alarms), drills a card
  //      to its institutions, the tiered-care trend and map, drills a figure to its records (the
  //      total equals the figure), exports a table, the ranking and the accessibility map ----
  await step('卫健委 weijianwei：规划指标卡片、约束性告警、趋势图与县域地图', page, async () => {
    await as('weijianwei');
    await page.goto(url('/monitoring'));
    await page.locator('#plan-cards .plan-card').first().waitFor();
    const cards = await page.locator('#plan-cards .plan-card').count();
    check(cards >= 19, `only ${cards} plan indicator cards`);
    await page.locator('#trend-chart canvas').first().waitFor();
    await page.locator('#map-chart canvas').first().waitFor();
    const alarms = await page.locator('#plan-alarms').count();
    await page.screenshot({ path: `${artifacts}monitoring-dashboard.png`, fullPage: true });
    return `${cards} cards, ${alarms ? (await page.locator('#plan-alarms').innerText()).trim() : 'no alarm'}`;
  });
  await step('规划指标下钻：构成数字的机构，分子合计等于指标分子', page, async () => {
    await page.locator('#plan-cards .plan-card[data-code="beds_per_1000"]').click();
    await page.locator('#drill-parts').waitFor();
    const numerator = Number((await page.locator('#drill-numerator').innerText()).trim());
    const parts = await page.locator('#drill-parts tbody tr td:nth-child(2)').allInnerTexts();
    const sum = parts.reduce((a, x) => a + Number(x), 0);
    check(Math.abs(sum - numerator) < 1e-6, `parts sum ${sum} ≠ numerator ${numerator}`);
    return `${parts.length} parts sum to ${numerator}`;
  });
  await step('分级诊疗指标表：基层诊疗量占比下钻到就诊记录，记录数等于分子；导出 Excel', page, async () => {
    await page.goto(url('/monitoring/tiered'));
    await page.locator('#tiered-table tbody tr[data-kind="county"] a').first().click();
    await page.locator('#drill-total').waitFor();
    const total = (await page.locator('#drill-total').innerText()).trim();
    const numerator = (await page.locator('#drill-numerator').innerText()).trim();
    check(total === numerator, `drill total ${total} ≠ numerator ${numerator}`);
    await page.goto(url('/monitoring/tiered'));
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#export-tiered-xlsx').click(),
    ]);
    const name = download.suggestedFilename();
    check(name.endsWith('.xlsx'), `export named ${name}`);
    return `drill total ${total} = numerator; exported ${name}`;
  });
  await step('医共体绩效考核排名与可及性地图', page, async () => {
    await page.goto(url('/monitoring/evaluation'));
    await page.locator('#ranking-chart canvas').first().waitFor();
    const total = (await page.locator('details.score .total').first().innerText()).trim();
    await page.goto(url('/monitoring/accessibility'));
    await page.locator('#access-map canvas').first().waitFor();
    const within30 = (await page.locator('#within-30').innerText()).trim();
    await page.screenshot({ path: `${artifacts}monitoring-access.png`, fullPage: true });
    return `top consortium ${total}/100; ${within30} within 30 minutes of a township center`;
  });
  await step('系统对接：FHIR 资源表与 /fhir/metadata 的能力声明一致', page, async () => {
    await page.getByRole('link', { name: '系统对接' }).click();
    await page.locator('#fhir-resources').waitFor();
    const rows = await page.locator('#fhir-resources tbody tr').count();
    const cs = await (await page.request.get(url('/fhir/metadata'))).json();
    const stated = cs.rest[0].resource.length;
    check(rows === stated, `${rows} rows on the page, ${stated} in the CapabilityStatement`);
    check(cs.fhirVersion === '4.0.1', `fhirVersion ${cs.fhirVersion}`);
    await page.screenshot({ path: `${artifacts}integration.png`, fullPage: true });
    return `${rows} resource types, FHIR ${cs.fhirVersion}`;
  });

  await ctx.close();
} catch (e) {
  failures++;
  console.log(`FAIL unexpected error: ${e?.stack || e}`);
} finally {
  await browser.close().catch(() => {});
}

console.log(failures ? `smoke: ${failures} failure(s)` : 'smoke: all passed');
process.exit(failures ? 1 : 0);
