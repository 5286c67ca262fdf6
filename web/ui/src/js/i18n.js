// Texts of the pages in zh-CN (the default) and English. The choice is kept in localStorage
// under kStorageKey. Elements name their text with data-i18n (textContent),
// data-i18n-placeholder, data-i18n-title and data-i18n-aria-label; applyTexts() fills them.

const kStorageKey = 'yiwang.lang';
export const kLanguages = ['zh-CN', 'en'];

const kTexts = {
  'zh-CN': {
    'app.title': '一网统管 · 城市运行指挥中心',
    'app.short': '一网统管',
    'lang.switch': 'English',
    'lang.switch.label': '切换到英文',
    'login.title': '操作员登录',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'login.logout': '退出',
    'login.unavailable': '登录服务尚未开放',
    'login.checking': '正在检查登录状态…',
    'login.failed': '登录失败',
    'login.ended': '登录已失效（已退出、账号停用或权限变更），请重新登录',
    'map.label': '重庆市区县地图',
    'map.loading': '正在加载地图…',
    'map.failed': '地图数据加载失败',
    'map.attribution': '行政区划 © 高德地图',
    'filters.title': '筛选',
    'filters.district': '区县',
    'filters.all': '全部',
    'filters.category': '类别',
    'filters.state': '状态',
    'filters.pending': '案件筛选将在案件服务接入后可用',
    'cases.title': '案件',
    'cases.pending': '案件列表将在登录并接入案件服务后显示',
    'district.hover': '{name}（{code}）',
    'error.network': '无法连接服务器，请检查网络后重试',
    'error.unavailable': '此功能尚未开放（服务器没有 {path} 接口）',
    'error.server': '服务器错误（{status}）',
    'report.title': '随手拍 · 问题上报',
    'report.intro': '发现城市管理问题？拍张照片、标出位置，一分钟就能上报。',
    'report.category': '问题类别',
    'report.category.choose': '请选择问题类别',
    'report.category.unavailable': '暂时无法上报：问题类别未能加载。{reason}',
    'report.description': '问题描述',
    'report.description.placeholder': '例如：人行道上的井盖松动，踩上去会晃',
    'report.location': '问题位置',
    'report.location.hint': '在地图上点一下问题所在的位置',
    'report.location.none': '尚未选择位置',
    'report.location.chosen': '已选位置：{district} {lat}, {lon}',
    'report.location.outside': '该位置不在重庆市范围内，请重新选择',
    'report.location.mine': '使用我的位置',
    'report.location.locating': '正在定位…',
    'report.location.denied': '无法获取您的位置：{reason}。请在地图上点选。',
    'report.location.unsupported': '此浏览器不支持定位，请在地图上点选。',
    'report.photo': '照片（可选，最多 3 张，大照片会自动缩小）',
    'report.photo.choose': '拍照或选择照片',
    'report.photo.badType': '“{name}” 不是 JPEG、PNG 或 WebP 图片',
    'report.photo.tooBig': '“{name}” 超过 10 MB',
    'report.photo.tooMany': '最多只能上传 3 张照片',
    'report.contact': '联系方式（可选）',
    'report.contact.placeholder': '手机号或邮箱，方便回访',
    'report.submit': '提交',
    'report.submitting': '正在提交…',
    'report.error.too_many_requests': '提交太频繁了，请稍后再试',
    'report.error.outside_service_area': '该位置不在重庆市范围内，请重新选择',
    'report.error.unsupported_media_type': '照片不是 JPEG、PNG 或 WebP 图片',
    'report.error.bad_image': '照片文件已损坏或不完整，请换一张',
    'report.error.image_too_large': '照片像素太多，请换一张较小的照片',
    'report.error.photo_too_large': '照片超过 10 MB',
    'report.uploading': '正在上传照片 {n}/{total}…',
    'report.missing.category': '请选择问题类别',
    'report.missing.description': '请填写问题描述',
    'report.missing.location': '请在地图上选择问题位置',
    'report.done.title': '上报成功',
    'report.done.code': '您的查询码',
    'report.done.keep': '请保存查询码，用它随时查看处理进度。',
    'report.done.linked': '附近已有同类问题正在处理，您的上报已并入该案件：用您的查询码即可看到它的处理进度和结果。',
    'report.done.track': '查看处理进度',
    'report.done.another': '再报一个问题',
    'report.nearby.title': '附近已有相似问题',
    'report.nearby.intro': '下面的问题可能和您要报的是同一个。支持（附议）它可以加快处理，您也会得到查询码，随时查看它的进度。',
    'report.nearby.distance': '{m} 米以内',
    'report.nearby.support': '就是这个，支持它',
    'report.nearby.new': '不是，继续新建上报',
    'track.title': '进度查询',
    'track.code': '查询码',
    'track.code.placeholder': '请输入上报后得到的查询码',
    'track.submit': '查询',
    'track.loading': '正在查询…',
    'track.unknown': '没有找到这个查询码，请检查后重试',
    'track.state': '当前状态',
    'track.category': '问题类别',
    'track.created': '上报时间',
    'track.timeline': '处理经过',
    'track.timeline.empty': '暂无处理记录',
    'track.after': '处理后照片',
    'track.rating.title': '评价处理结果',
    'track.rating.stars': '满意度',
    'track.rating.star': '{n} 星',
    'track.rating.comment': '评价（可选）',
    'track.rating.fixed': '问题已经解决了吗？',
    'track.rating.fixed.yes': '已解决',
    'track.rating.fixed.no': '没有解决（将重新处理）',
    'track.rating.fixed.no.opinion': '没有解决（作为您的意见记录）',
    'track.rating.submit': '提交评价',
    'track.rating.missing': '请选择满意度和是否已解决',
    'track.rating.thanks': '感谢您的评价！',
    'track.rating.done': '您的评价：{stars} 星{comment}',
    'track.report': '我要上报问题',
    'nav.report': '上报问题',
    'nav.track': '查询进度',
  },
  en: {
    'app.title': 'Yiwang · City Operations Command Centre',
    'app.short': 'Yiwang',
    'lang.switch': '中文',
    'lang.switch.label': 'Switch to Chinese',
    'login.title': 'Operator sign-in',
    'login.username': 'User name',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.logout': 'Sign out',
    'login.unavailable': 'Sign-in is not available yet',
    'login.checking': 'Checking sign-in…',
    'login.failed': 'Sign-in failed',
    'login.ended': 'Your sign-in has ended (signed out, account disabled or changed): sign in again',
    'map.label': 'Map of Chongqing\'s districts',
    'map.loading': 'Loading the map…',
    'map.failed': 'The map data could not be loaded',
    'map.attribution': 'Districts © AMap',
    'filters.title': 'Filters',
    'filters.district': 'District',
    'filters.all': 'All',
    'filters.category': 'Category',
    'filters.state': 'State',
    'filters.pending': 'Case filters work once the case service is connected',
    'cases.title': 'Cases',
    'cases.pending': 'Cases appear here after sign-in, once the case service is connected',
    'district.hover': '{name} ({code})',
    'error.network': 'Cannot reach the server; check the network and try again',
    'error.unavailable': 'This is not available yet (the server has no {path} endpoint)',
    'error.server': 'Server error ({status})',
    'report.title': 'Report a problem',
    'report.intro': 'Seen a problem in the city? Take a photo, mark the spot, done in a minute.',
    'report.category': 'What kind of problem',
    'report.category.choose': 'Choose a category',
    'report.category.unavailable': 'Reporting is not possible right now: the categories could not be loaded. {reason}',
    'report.description': 'Description',
    'report.description.placeholder': 'e.g. a loose manhole cover on the pavement rocks when stepped on',
    'report.location': 'Location',
    'report.location.hint': 'Tap the map where the problem is',
    'report.location.none': 'No location chosen yet',
    'report.location.chosen': 'Chosen: {district} {lat}, {lon}',
    'report.location.outside': 'That spot is outside Chongqing; please choose again',
    'report.location.mine': 'Use my location',
    'report.location.locating': 'Locating…',
    'report.location.denied': 'Your location is not available: {reason}. Tap the map instead.',
    'report.location.unsupported': 'This browser cannot locate you; tap the map instead.',
    'report.photo': 'Photos (optional, up to 3; large ones are scaled down)',
    'report.photo.choose': 'Take or choose photos',
    'report.photo.badType': '“{name}” is not a JPEG, PNG or WebP image',
    'report.photo.tooBig': '“{name}” is larger than 10 MB',
    'report.photo.tooMany': 'At most 3 photos',
    'report.contact': 'Contact (optional)',
    'report.contact.placeholder': 'Phone or e-mail, for follow-up',
    'report.submit': 'Submit',
    'report.submitting': 'Submitting…',
    'report.error.too_many_requests': 'Too many submissions from here: please try again later',
    'report.error.outside_service_area': 'This place is not in Chongqing: please choose another',
    'report.error.unsupported_media_type': 'The photo is not a JPEG, PNG or WebP image',
    'report.error.bad_image': 'The photo file is damaged or incomplete: please choose another',
    'report.error.image_too_large': 'The photo has too many pixels: please choose a smaller one',
    'report.error.photo_too_large': 'The photo is larger than 10 MB',
    'report.uploading': 'Uploading photo {n} of {total}…',
    'report.missing.category': 'Please choose a category',
    'report.missing.description': 'Please describe the problem',
    'report.missing.location': 'Please mark the location on the map',
    'report.done.title': 'Thank you, your report is in',
    'report.done.code': 'Your tracking code',
    'report.done.keep': 'Keep the code: it shows the progress at any time.',
    'report.done.linked': 'A similar problem nearby is already being handled; your report was added to it: your tracking code shows its progress and outcome.',
    'report.done.track': 'Follow its progress',
    'report.done.another': 'Report another problem',
    'report.nearby.title': 'Similar problems nearby',
    'report.nearby.intro': 'One of these may be the problem you are reporting. Supporting it speeds it up, and your tracking code shows its progress.',
    'report.nearby.distance': 'within {m} m',
    'report.nearby.support': 'That is it, support it',
    'report.nearby.new': 'No, file a new report',
    'track.title': 'Track a report',
    'track.code': 'Tracking code',
    'track.code.placeholder': 'The code you got when you reported',
    'track.submit': 'Look up',
    'track.loading': 'Looking up…',
    'track.unknown': 'No report has this tracking code: please check it',
    'track.state': 'Status',
    'track.category': 'Category',
    'track.created': 'Reported',
    'track.timeline': 'What happened',
    'track.timeline.empty': 'Nothing recorded yet',
    'track.after': 'Photos after the fix',
    'track.rating.title': 'Rate the result',
    'track.rating.stars': 'Satisfaction',
    'track.rating.star': '{n} stars',
    'track.rating.comment': 'Comment (optional)',
    'track.rating.fixed': 'Is the problem fixed?',
    'track.rating.fixed.yes': 'Fixed',
    'track.rating.fixed.no': 'Not fixed (it will be reopened)',
    'track.rating.fixed.no.opinion': 'Not fixed (recorded as your opinion)',
    'track.rating.submit': 'Send rating',
    'track.rating.missing': 'Please choose a satisfaction level and whether it is fixed',
    'track.rating.thanks': 'Thank you for your rating!',
    'track.rating.done': 'Your rating: {stars} stars{comment}',
    'track.report': 'Report a problem',
    'nav.report': 'Report',
    'nav.track': 'Track',
  },
};

let chosen = null;  // this page's choice, in case localStorage is unavailable

export function currentLanguage() {
  if (chosen) return chosen;
  let stored = null;
  try {
    stored = localStorage.getItem(kStorageKey);
  } catch {
    // Storage may be disabled (private mode): fall back to the default.
  }
  return kLanguages.includes(stored) ? stored : 'zh-CN';
}

// The text for `key` in the current language with {name} placeholders filled from `params`.
// Adds texts of one page ({'zh-CN': {...}, en: {...}}) so that each page keeps its own.
export function addTexts(texts) {
  for (const lang of kLanguages) Object.assign(kTexts[lang], texts[lang] ?? {});
}

// An unknown key is returned as is, so a missing text shows up rather than vanishing.
export function t(key, params = {}) {
  const text = kTexts[currentLanguage()][key] ?? kTexts['zh-CN'][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

const listeners = new Set();
// Calls `fn` after every language change (for texts built in code rather than markup).
export function onLanguageChange(fn) {
  listeners.add(fn);
}

// Fills every data-i18n* element under `root` and sets <html lang> and the page title.
export function applyTexts(root = document) {
  document.documentElement.lang = currentLanguage();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]'))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]'))
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  const titleKey = document.body?.dataset.titleKey;
  if (titleKey) document.title = t(titleKey);
}

export function setLanguage(lang) {
  if (!kLanguages.includes(lang)) return;
  chosen = lang;
  try {
    localStorage.setItem(kStorageKey, lang);
  } catch {
    // Not persisted; the switch still applies to this page.
  }
  applyTexts();
  for (const fn of listeners) fn(lang);
}

// Wires a button that toggles between the two languages, and applies the current one.
export function mountLanguageSwitch(button) {
  button.addEventListener('click', () => {
    setLanguage(currentLanguage() === 'zh-CN' ? 'en' : 'zh-CN');
  });
  applyTexts();
}
