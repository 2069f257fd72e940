// node_modules/svelte/src/internal/shared/utils.js
var e = Array.isArray, t = Array.prototype.indexOf, n = Array.prototype.includes, r = Array.from, i = Object.defineProperty, a = Object.getOwnPropertyDescriptor, o = Object.getOwnPropertyDescriptors, s = Object.prototype, c = Array.prototype, l = Object.getPrototypeOf, u = Object.isExtensible, d = () => {};
function f(e) {
	for (var t = 0; t < e.length; t++) e[t]();
}
function p() {
	var e, t;
	return {
		promise: new Promise((n, r) => {
			e = n, t = r;
		}),
		resolve: e,
		reject: t
	};
}
function m(e, t) {
	if (Array.isArray(e)) return e;
	if (t === void 0 || !(Symbol.iterator in e)) return Array.from(e);
	let n = [];
	for (let r of e) if (n.push(r), n.length === t) break;
	return n;
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/typeof.js
function h(e) {
	"@babel/helpers - typeof";
	return h = typeof Symbol == "function" && typeof Symbol.iterator == "symbol" ? function(e) {
		return typeof e;
	} : function(e) {
		return e && typeof Symbol == "function" && e.constructor === Symbol && e !== Symbol.prototype ? "symbol" : typeof e;
	}, h(e);
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/toPrimitive.js
function g(e, t) {
	if (h(e) != "object" || !e) return e;
	var n;
	if (typeof Symbol < "u" && (n = e[Symbol.toPrimitive]) !== void 0) {
		var r = n.call(e, t || "default");
		if (h(r) != "object") return r;
		throw TypeError("@@toPrimitive must return a primitive value.");
	}
	return (t === "string" ? String : Number)(e);
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/toPropertyKey.js
function _(e) {
	var t = g(e, "string");
	return h(t) == "symbol" ? t : t + "";
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/defineProperty.js
function v(e, t, n) {
	return (t = _(t)) in e ? Object.defineProperty(e, t, {
		value: n,
		enumerable: !0,
		configurable: !0,
		writable: !0
	}) : e[t] = n, e;
}
var y = 1024, b = 2048, x = 4096, S = 8192, C = 16384, w = 32768, ee = 1 << 25, T = 65536, te = 1 << 19, ne = 1 << 20, re = 1 << 25, ie = 1 << 21, ae = 1 << 22, oe = 1 << 23, se = Symbol("$state"), ce = Symbol("component"), le = Symbol("legacy props"), ue = Symbol(""), de = Symbol("attributes"), fe = Symbol("class"), pe = Symbol("style"), me = Symbol("text"), he = Symbol("form reset"), ge = new class extends Error {
	constructor(...e) {
		super(...e), v(this, "name", "StaleReactionError"), v(this, "message", "The reaction that called `getAbortSignal()` was re-run or destroyed");
	}
}(), _e = !!globalThis.document?.contentType && /* @__PURE__ */ globalThis.document.contentType.includes("xml"), ve = {}, E = Symbol("uninitialized");
function ye() {
	console.warn("https://svelte.dev/e/derived_inert");
}
function be(e) {
	console.warn("https://svelte.dev/e/hydration_mismatch");
}
function xe() {
	console.warn("https://svelte.dev/e/select_multiple_invalid_value");
}
function Se() {
	console.warn("https://svelte.dev/e/svelte_boundary_reset_noop");
}
// node_modules/svelte/src/internal/client/dom/hydration.js
var D = !1;
function Ce(e) {
	D = e;
}
var O;
function we(e) {
	if (e === null) throw be(), ve;
	return O = e;
}
function Te() {
	return we(/* @__PURE__ */ jn(O));
}
function k(e) {
	if (D) {
		if (/* @__PURE__ */ jn(O) !== null) throw be(), ve;
		O = e;
	}
}
function Ee(e = 1) {
	if (D) {
		for (var t = e, n = O; t--;) n = /* @__PURE__ */ jn(n);
		O = n;
	}
}
function De(e = !0) {
	for (var t = 0, n = O;;) {
		if (n.nodeType === 8) {
			var r = n.data;
			if (r === "]") {
				if (t === 0) return n;
				--t;
			} else (r === "[" || r === "[!" || r[0] === "[" && !isNaN(Number(r.slice(1)))) && (t += 1);
		}
		var i = /* @__PURE__ */ jn(n);
		e && n.remove(), n = i;
	}
}
function Oe(e) {
	if (!e || e.nodeType !== 8) throw be(), ve;
	return e.data;
}
// node_modules/svelte/src/internal/client/reactivity/equality.js
function ke(e) {
	return e === this.v;
}
function Ae(e, t) {
	return e == e ? e !== t || typeof e == "object" && !!e || typeof e == "function" : t == t;
}
function je(e) {
	return !Ae(e, this.v);
}
// node_modules/svelte/src/internal/client/errors.js
function Me() {
	throw Error("https://svelte.dev/e/async_derived_orphan");
}
function Ne(e, t, n) {
	throw Error("https://svelte.dev/e/each_key_duplicate");
}
function Pe(e) {
	throw Error("https://svelte.dev/e/effect_in_teardown");
}
function Fe() {
	throw Error("https://svelte.dev/e/effect_in_unowned_derived");
}
function Ie(e) {
	throw Error("https://svelte.dev/e/effect_orphan");
}
function Le() {
	throw Error("https://svelte.dev/e/effect_update_depth_exceeded");
}
function Re(e) {
	throw Error("https://svelte.dev/e/props_invalid_value");
}
function ze() {
	throw Error("https://svelte.dev/e/state_descriptors_fixed");
}
function Be() {
	throw Error("https://svelte.dev/e/state_prototype_fixed");
}
function Ve() {
	throw Error("https://svelte.dev/e/state_unsafe_mutation");
}
function He() {
	throw Error("https://svelte.dev/e/svelte_boundary_reset_onerror");
}
// node_modules/svelte/src/internal/client/context.js
var Ue = null;
function We(e) {
	Ue = e;
}
function Ge(e, t = !1, n) {
	Ue = {
		p: Ue,
		i: !1,
		c: null,
		e: null,
		s: e,
		x: null,
		r: U,
		l: null
	};
}
function Ke(e) {
	var t = Ue, n = t.e;
	if (n !== null) {
		t.e = null;
		for (var r of n) Wn(r);
	}
	return e !== void 0 && (t.x = e), t.i = !0, Ue = t.p, qe(e);
}
function qe(e = {}) {
	return i(e, ce, { value: !0 }), e;
}
function Je() {
	return !0;
}
// node_modules/svelte/src/internal/client/dom/task.js
var Ye = [];
function Xe() {
	var e = Ye;
	Ye = [], f(e);
}
function Ze(e) {
	if (Ye.length === 0 && !Dt) {
		var t = Ye;
		queueMicrotask(() => {
			t === Ye && Xe();
		});
	}
	Ye.push(e);
}
function Qe() {
	for (; Ye.length > 0;) Xe();
}
// node_modules/svelte/src/internal/client/reactivity/status.js
var $e = ~(b | x | y);
function et(e, t) {
	e.f = e.f & $e | t;
}
function tt(e) {
	e.f & 512 || e.deps === null ? et(e, y) : et(e, x);
}
// node_modules/svelte/src/internal/client/reactivity/utils.js
function nt(e, t) {
	e.f & 2048 ? t.set(e, b) : e.f & 4096 && t.get(e) !== 2048 && t.set(e, x), et(e, y);
}
// node_modules/svelte/src/internal/client/dom/elements/misc.js
var rt = !1;
function it() {
	rt || (rt = !0, document.addEventListener("reset", (e) => {
		Promise.resolve().then(() => {
			if (!e.defaultPrevented) for (let t of e.target.elements) t[he]?.();
		});
	}, { capture: !0 }));
}
// node_modules/svelte/src/internal/client/dom/elements/bindings/shared.js
function at(e) {
	var t = H, n = U;
	pr(null), mr(null);
	try {
		return e();
	} finally {
		pr(t), mr(n);
	}
}
function ot(e, t, n, r = n) {
	e.addEventListener(t, () => at(n));
	let i = e[he];
	e[he] = i ? () => {
		i(), r(!0);
	} : () => r(!0), it();
}
// node_modules/svelte/src/internal/client/reactivity/async.js
function st(e, t, n, r) {
	let i = Je() ? dt : mt;
	var a = e.filter((e) => !e.settled), o = t.map(i);
	if (n.length === 0 && a.length === 0) {
		r(o);
		return;
	}
	var s = U, c = ct(), l = a.length === 1 ? a[0].promise : a.length > 1 ? Promise.all(a.map((e) => e.promise)) : null;
	function u(e) {
		if (!(s.f & 16384)) {
			c();
			try {
				r([...o, ...e]);
			} catch (e) {
				Rn(e, s);
			}
			lt();
		}
	}
	var d = ut();
	if (n.length === 0) {
		l.then(() => u([])).finally(d);
		return;
	}
	function f() {
		Promise.all(n.map((e) => /* @__PURE__ */ pt(e))).then(u).catch((e) => Rn(e, s)).finally(d);
	}
	l ? l.then(() => {
		s.f & 16384 ? d() : (c(), f(), lt());
	}) : f();
}
function ct() {
	var e = U, t = H, n = Ue, r = F;
	return function(i = !0) {
		mr(e), pr(t), We(n), i && !(e.f & 16384) && (r?.activate(), r?.apply());
	};
}
function lt(e = !0) {
	mr(null), pr(null), We(null), e && F?.deactivate();
}
function ut() {
	var e = U, t = e.b, n = F, r = !!t?.is_rendered();
	return t?.update_pending_count(1, n), n.increment(r, e), () => {
		t?.update_pending_count(-1, n), n.decrement(r, e);
	};
}
/*#__NO_SIDE_EFFECTS__*/
function dt(e) {
	var t = 2 | b;
	return U !== null && (U.f |= te), {
		ctx: Ue,
		deps: null,
		effects: null,
		equals: ke,
		f: t,
		fn: e,
		reactions: null,
		rv: 0,
		v: E,
		wv: 0,
		parent: U,
		ac: null
	};
}
var ft = Symbol("obsolete");
/*#__NO_SIDE_EFFECTS__*/
function pt(e, t, n) {
	let r = U;
	r === null && Me();
	var i = void 0, a = fn(E), o = !H, s = /* @__PURE__ */ new Set();
	return Jn(() => {
		var t = U, n = p();
		i = n.promise;
		try {
			Promise.resolve(e()).then(n.resolve, (e) => {
				e !== ge && n.reject(e);
			}).finally(lt);
		} catch (e) {
			n.reject(e), lt();
		}
		var c = F;
		if (o) {
			if (t.f & 32768) var l = ut();
			if (r.b?.is_rendered()) c.async_deriveds.get(t)?.reject(ft);
			else for (let e of s.values()) e.reject(ft);
			s.add(n), c.async_deriveds.set(t, n);
		}
		let u = (e, t = void 0) => {
			l?.(), s.delete(n), t !== ft && (c.activate(), t ? (a.f |= oe, _n(a, t)) : (a.f & 8388608 && (a.f ^= oe), _n(a, e)), c.deactivate());
		};
		n.promise.then(u, (e) => u(null, e || "unknown"));
	}), Un(() => {
		for (let e of s) e.reject(ft);
	}), new Promise((e) => {
		function t(n) {
			function r() {
				n === i ? e(a) : t(i);
			}
			n.then(r, r);
		}
		t(i);
	});
}
/*#__NO_SIDE_EFFECTS__*/
function A(e) {
	let t = /* @__PURE__ */ dt(e);
	return gr(t), t;
}
/*#__NO_SIDE_EFFECTS__*/
function mt(e) {
	let t = /* @__PURE__ */ dt(e);
	return t.equals = je, t;
}
function ht(e) {
	var t = e.effects;
	if (t !== null) {
		e.effects = null;
		for (var n = 0; n < t.length; n += 1) tr(t[n]);
	}
}
function gt(e) {
	var t, n = U, r = e.parent;
	if (!ur && r !== null && e.v !== E && r.f & 24576) return ye(), e.v;
	mr(r);
	try {
		ht(e), t = Or(e);
	} finally {
		mr(n);
	}
	return t;
}
function _t(e) {
	var t = gt(e);
	!e.equals(t) && (e.wv = Tr(), (!F?.is_fork || e.deps === null) && (F === null ? e.v = t : (F.capture(e, t, !0), wt?.capture(e, t, !0)), e.deps === null)) ? et(e, y) : ur || (Tt === null ? tt(e) : (Hn() || F?.is_fork) && Tt.set(e, t));
}
function vt(e) {
	if (e.effects !== null) for (let t of e.effects) (t.teardown || t.ac) && (t.teardown?.(), t.ac !== null && at(() => {
		t.ac.abort(ge), t.ac = null;
	}), t.fn !== null && (t.teardown = d), jr(t, 0), $n(t));
}
function yt(e) {
	if (e.effects !== null) for (let t of e.effects) t.teardown && t.fn !== null && Mr(t);
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/checkPrivateRedeclaration.js
function bt(e, t) {
	if (t.has(e)) throw TypeError("Cannot initialize the same private elements twice on an object");
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/classPrivateMethodInitSpec.js
function xt(e, t) {
	bt(e, t), t.add(e);
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/classPrivateFieldInitSpec.js
function j(e, t, n) {
	bt(e, t), t.set(e, n);
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/assertClassBrand.js
function M(e, t, n) {
	if (typeof e == "function" ? e === t : e.has(t)) return arguments.length < 3 ? t : n;
	throw TypeError("Private element is not present on this object");
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/classPrivateFieldGet2.js
function N(e, t) {
	return e.get(M(e, t));
}
// \0@oxc-project+runtime@0.159.0/helpers/esm/classPrivateFieldSet2.js
function P(e, t, n) {
	return e.set(M(e, t), n), n;
}
// node_modules/svelte/src/internal/client/reactivity/batch.js
var St, Ct = null, F = null, wt = null, Tt = null, Et = null, Dt = !1, Ot = !1, kt = null, At = null, jt = 0, Mt = 1, Nt = /* @__PURE__ */ new WeakMap(), Pt = /* @__PURE__ */ new WeakMap(), Ft = /* @__PURE__ */ new WeakMap(), It = /* @__PURE__ */ new WeakMap(), Lt = /* @__PURE__ */ new WeakMap(), Rt = /* @__PURE__ */ new WeakMap(), zt = /* @__PURE__ */ new WeakMap(), Bt = /* @__PURE__ */ new WeakMap(), Vt = /* @__PURE__ */ new WeakMap(), Ht = /* @__PURE__ */ new WeakMap(), Ut = /* @__PURE__ */ new WeakMap(), I = /* @__PURE__ */ new WeakSet(), Wt = class e {
	constructor() {
		xt(this, I), v(this, "id", Mt++), v(this, "started", !1), v(this, "linked", !0), v(this, "prev", null), v(this, "next", null), v(this, "async_deriveds", /* @__PURE__ */ new Map()), v(this, "current", /* @__PURE__ */ new Map()), v(this, "previous", /* @__PURE__ */ new Map()), j(this, Nt, /* @__PURE__ */ new Set()), j(this, Pt, /* @__PURE__ */ new Set()), j(this, Ft, 0), j(this, It, /* @__PURE__ */ new Map()), j(this, Lt, null), j(this, Rt, []), j(this, zt, []), j(this, Bt, /* @__PURE__ */ new Map()), j(this, Vt, /* @__PURE__ */ new Map()), j(this, Ht, /* @__PURE__ */ new Set()), v(this, "is_fork", !1), j(this, Ut, !1), Ct === null ? Ct = this : (Ct.next = this, this.prev = Ct), Ct = this;
	}
	skip_effect(e) {
		N(Vt, this).has(e) || N(Vt, this).set(e, {
			d: [],
			m: []
		}), N(Ht, this).delete(e);
	}
	unskip_effect(e, t = (e) => this.schedule(e)) {
		var n = N(Vt, this).get(e);
		if (n) {
			N(Vt, this).delete(e);
			for (var r of n.d) et(r, b), t(r);
			for (r of n.m) et(r, x), t(r);
		}
		N(Ht, this).add(e);
	}
	capture(e, t, n = !1) {
		e.v !== E && !this.previous.has(e) && this.previous.set(e, e.v), e.f & 8388608 || (this.current.set(e, [t, n]), Tt?.set(e, t)), this.is_fork || (e.v = t);
	}
	activate() {
		F = this;
	}
	deactivate() {
		F = null, Tt = null;
	}
	flush() {
		try {
			Ot = !0, F = this, M(I, this, Jt).call(this);
		} finally {
			jt = 0, Et = null, kt = null, At = null, Ot = !1, F = null, Tt = null, un.clear();
		}
	}
	discard() {
		for (let e of N(Pt, this)) e(this);
		N(Pt, this).clear();
		for (let e of this.async_deriveds.values()) e.reject(ft);
		M(I, this, en).call(this), N(Lt, this)?.resolve();
	}
	register_created_effect(e) {
		N(zt, this).push(e);
	}
	increment(e, t) {
		if (P(Ft, this, N(Ft, this) + 1), e) {
			let e = N(It, this).get(t) ?? 0;
			N(It, this).set(t, e + 1);
		}
	}
	decrement(e, t) {
		if (P(Ft, this, N(Ft, this) - 1), e) {
			let e = N(It, this).get(t) ?? 0;
			e === 1 ? N(It, this).delete(t) : N(It, this).set(t, e - 1);
		}
		N(Ut, this) || (P(Ut, this, !0), Ze(() => {
			P(Ut, this, !1), this.linked && this.flush();
		}));
	}
	transfer_reactions(e) {
		for (let [t, n] of e) this.add_dirty_reaction(t, n);
		e.clear();
	}
	add_dirty_reaction(e, t) {
		(t === 2048 || N(Bt, this).get(e) !== 2048) && N(Bt, this).set(e, t);
	}
	oncommit(e) {
		N(Nt, this).add(e);
	}
	ondiscard(e) {
		N(Pt, this).add(e);
	}
	settled() {
		return (N(Lt, this) ?? P(Lt, this, p())).promise;
	}
	static ensure() {
		if (F === null) {
			let t = F = new e();
			!Ot && !Dt && Ze(() => {
				t.started || t.flush();
			});
		}
		return F;
	}
	apply() {
		Tt = null;
	}
	schedule(e) {
		Et = e, e.b?.is_pending && e.f & 16777228 && !(e.f & 32768) ? e.b.defer_effect(e) : N(Rt, this).push(e);
	}
};
St = Wt;
function Gt() {
	if (this.is_fork) return !0;
	for (let e of N(It, this).keys()) if (!M(I, this, Kt).call(this, e)) return !0;
	return !1;
}
function Kt(e) {
	for (var t = e; t !== null; t = t.parent) if (N(Vt, this).has(t)) return !0;
	return !1;
}
function qt() {
	var e = [];
	for (let i of N(Rt, this)) if (!(i.f & 16384 || !(i.f & 6144))) {
		for (var t = i, n = !1; t.parent !== null;) {
			t = t.parent;
			var r = t.f;
			if (r & 96) {
				if (!(r & 1024)) {
					n = !0;
					break;
				}
				t.f ^= y;
			}
		}
		n || e.push(t);
	}
	return P(Rt, this, []), e;
}
function Jt() {
	this.started = !0;
	for (let [e, t] of N(Bt, this)) et(e, t), this.schedule(e);
	this.apply();
	for (var e = kt = [], t = [], n = At = []; N(Rt, this).length > 0;) {
		jt++ > 1e3 && (M(I, this, en).call(this), nn());
		for (let n of M(I, this, qt).call(this)) try {
			M(I, this, Yt).call(this, n, e, t);
		} catch (e) {
			throw cn(n), M(I, this, Gt).call(this) || this.discard(), e;
		}
	}
	if (F = null, n.length > 0) {
		var r = St.ensure();
		for (let e of n) r.schedule(e);
	}
	if (kt = null, At = null, M(I, this, Gt).call(this)) {
		M(I, this, $t).call(this, t), M(I, this, $t).call(this, e);
		for (let [e, t] of N(Vt, this)) sn(e, t);
		n.length > 0 && M(I, F, Jt).call(F);
		return;
	}
	let i = M(I, this, Xt).call(this);
	if (i) M(I, this, $t).call(this, t), M(I, this, $t).call(this, e), M(I, i, Qt).call(i, this);
	else {
		N(Bt, this).clear();
		for (let e of N(Nt, this)) e(this);
		N(Nt, this).clear(), wt = this, an(t), an(e), wt = null, N(Lt, this)?.resolve();
		var a = F;
		N(Ft, this) === 0 && (N(Rt, this).length === 0 || a !== null) && M(I, this, en).call(this), a !== null && (un.clear(), M(I, a, Jt).call(a));
	}
}
function Yt(e, t, n) {
	e.f ^= y;
	for (var r = e.first; r !== null;) {
		var i = r.f, a = !!(i & 96);
		if (!(a && i & 1024 || i & 8192 || N(Vt, this).has(r)) && r.fn !== null) {
			a ? r.f ^= y : i & 4 ? t.push(r) : Er(r) && (i & 16 && this.add_dirty_reaction(r, x), Mr(r));
			var o = r.first;
			if (o !== null) {
				r = o;
				continue;
			}
		}
		for (; r !== null;) {
			var s = r.next;
			if (s !== null) {
				r = s;
				break;
			}
			r = r.parent;
		}
	}
}
function Xt() {
	for (var e = this.prev; e !== null; e = e.prev) if (!e.is_fork && M(I, this, Zt).call(this, e)) return e;
	return null;
}
function Zt(e) {
	for (let [t, [, n]] of this.current) if (!n && e.current.has(t)) return !0;
	return !1;
}
function Qt(e) {
	for (let [t, n] of e.current) !this.previous.has(t) && e.previous.has(t) && this.previous.set(t, e.previous.get(t)), this.current.set(t, n);
	for (let [t, n] of e.async_deriveds) {
		let e = this.async_deriveds.get(t);
		e && n.promise.then(e.resolve).catch(e.reject);
	}
	e.async_deriveds.clear(), this.transfer_reactions(N(Bt, e));
	let t = (e) => {
		var n = e.reactions;
		if (n !== null && !(e.f & 2 && !(e.f & 6144))) for (let e of n) {
			var r = e.f;
			if (r & 2) t(e);
			else {
				var i = e;
				r & 4194320 && !this.async_deriveds.has(i) && (N(Bt, this).delete(i), et(i, b), this.schedule(i));
			}
		}
	};
	for (let e of this.current.keys()) t(e);
	this.oncommit(() => e.discard()), M(I, e, en).call(e), F = this, M(I, this, Jt).call(this);
}
function $t(e) {
	for (var t = 0; t < e.length; t += 1) nt(e[t], N(Bt, this));
}
function en() {
	if (this.linked) {
		var e = this.prev, t = this.next;
		e === null || (e.next = t), t === null ? Ct = e : t.prev = e, this.linked = !1;
	}
}
function tn(e) {
	var t = Dt, n = wt;
	wt = null, Dt = !0;
	try {
		var r;
		for (e && (tn(), r = e());;) {
			if (Qe(), F === null) return r;
			F.flush();
		}
	} finally {
		Dt = t, wt = n;
	}
}
function nn() {
	try {
		Le();
	} catch (e) {
		Rn(e, Et);
	}
}
var rn = null;
function an(e) {
	var t = e.length;
	if (t !== 0) {
		for (var n = 0; n < t;) {
			var r = e[n++];
			if (!(r.f & 24576) && Er(r) && (rn = /* @__PURE__ */ new Set(), Mr(r), r.deps === null && r.first === null && r.nodes === null && r.teardown === null && r.ac === null && rr(r), rn?.size > 0)) {
				un.clear();
				for (let e of rn) {
					if (e.f & 24576) continue;
					let t = [e], n = e.parent;
					for (; n !== null;) rn.has(n) && (rn.delete(n), t.push(n)), n = n.parent;
					for (let e = t.length - 1; e >= 0; e--) {
						let n = t[e];
						n.f & 24576 || Mr(n);
					}
				}
				rn.clear();
			}
		}
		rn = null;
	}
}
function on(e) {
	F.schedule(e);
}
function sn(e, t) {
	if (!(e.f & 32 && e.f & 1024)) {
		e.f & 2048 ? t.d.push(e) : e.f & 4096 && t.m.push(e), et(e, y);
		for (var n = e.first; n !== null;) sn(n, t), n = n.next;
	}
}
function cn(e) {
	et(e, y);
	for (var t = e.first; t !== null;) cn(t), t = t.next;
}
// node_modules/svelte/src/internal/client/reactivity/sources.js
var ln = /* @__PURE__ */ new Set(), un = /* @__PURE__ */ new Map(), dn = !1;
function fn(e, t) {
	return {
		f: 0,
		v: e,
		reactions: null,
		equals: ke,
		rv: 0,
		wv: 0
	};
}
/*#__NO_SIDE_EFFECTS__*/
function pn(e, t) {
	let n = fn(e, t);
	return gr(n), n;
}
/*#__NO_SIDE_EFFECTS__*/
function mn(e, t = !1, n = !0) {
	let r = fn(e);
	return t || (r.equals = je), r;
}
function L(e, t, n = !1) {
	return H !== null && (!fr || H.f & 131072) && Je() && H.f & 4325394 && (hr === null || !hr.has(e)) && Ve(), _n(e, n ? xn(t) : t, At);
}
var hn = null, gn = 0;
function _n(e, t, n = null) {
	if (!e.equals(t)) {
		ur ? un.set(e, t) : un.has(e) || un.set(e, e.v);
		var r = Wt.ensure();
		if (r.capture(e, t), e.f & 2) {
			let t = e;
			e.f & 2048 && gt(t), Tt === null && tt(t);
		}
		e.wv = Tr(), hn = null, gn = 0, bn(e, b, n), hn = null, Je() && U !== null && U.f & 1024 && !(U.f & 96) && (yr === null ? br([e]) : yr.push(e)), !r.is_fork && ln.size > 0 && !dn && vn();
	}
	return t;
}
function vn() {
	dn = !1;
	for (let e of ln) {
		e.f & 1024 && et(e, x);
		let t;
		try {
			t = Er(e);
		} catch {
			t = !0;
		}
		t && Mr(e);
	}
	ln.clear();
}
function yn(e) {
	L(e, e.v + 1);
}
function bn(e, t, n) {
	var r = e.reactions;
	if (r !== null) {
		var i = Je(), a = r.length;
		if (gn += a, gn > 1e5 && hn === null && (hn = /* @__PURE__ */ new Set()), hn !== null) {
			if (hn.has(e)) return;
			hn.add(e);
		}
		for (var o = 0; o < a; o++) {
			var s = r[o], c = s.f;
			if (i || s !== U) {
				var l = (c & b) === 0;
				if (l && et(s, t), c & 131072) ln.add(s);
				else if (c & 2) {
					var u = s;
					Tt?.delete(u), bn(u, x, n);
				} else if (l) {
					var d = s;
					c & 16 && rn !== null && rn.add(d), n === null ? on(d) : n.push(d);
				}
			}
		}
	}
}
function xn(t) {
	if (typeof t != "object" || !t || se in t || ce in t) return t;
	let n = l(t);
	if (n !== s && n !== c) return t;
	var r = /* @__PURE__ */ new Map(), i = e(t), o = /* @__PURE__ */ pn(0), u = null, d = Cr, f = (e) => {
		if (Cr === d) return e();
		var t = H, n = Cr;
		pr(null), wr(d);
		var r = e();
		return pr(t), wr(n), r;
	};
	return i && r.set("length", /* @__PURE__ */ pn(t.length, u)), new Proxy(t, {
		defineProperty(e, t, n) {
			"value" in n && n.configurable !== !1 && n.enumerable !== !1 && n.writable !== !1 || ze();
			var i = r.get(t);
			return i === void 0 ? f(() => {
				var e = /* @__PURE__ */ pn(n.value, u);
				return r.set(t, e), e;
			}) : L(i, n.value, !0), !0;
		},
		deleteProperty(e, t) {
			var n = r.get(t);
			if (n === void 0) {
				if (t in e) {
					let e = f(() => /* @__PURE__ */ pn(E, u));
					r.set(t, e), yn(o);
				}
			} else L(n, E), yn(o);
			return !0;
		},
		get(e, n, i) {
			if (n === se) return t;
			var o = r.get(n), s = n in e;
			if (o === void 0 && (!s || a(e, n)?.writable) && (o = f(() => /* @__PURE__ */ pn(xn(s ? e[n] : E), u)), r.set(n, o)), o !== void 0) {
				var c = W(o);
				return c === E ? void 0 : c;
			}
			return Reflect.get(e, n, i);
		},
		getOwnPropertyDescriptor(e, t) {
			this.has?.(e, t);
			var n = Reflect.getOwnPropertyDescriptor(e, t), i = r.get(t);
			if (i !== void 0) {
				var a = W(i);
				if (a === E) return;
				if (n && "value" in n) n.value = a;
				else return {
					enumerable: !0,
					configurable: !0,
					value: a,
					writable: !0
				};
			}
			return n;
		},
		has(e, t) {
			if (t === se) return !0;
			var n = r.get(t), i = n !== void 0 && n.v !== E || Reflect.has(e, t);
			return (n !== void 0 || (U !== null || H !== null) && (!i || a(e, t)?.writable)) && (n === void 0 && (n = f(() => /* @__PURE__ */ pn(i ? xn(e[t]) : E, u)), r.set(t, n)), W(n) === E) ? !1 : i;
		},
		set(e, t, n, s) {
			var c = r.get(t), l = t in e;
			if (i && t === "length") for (var d = n; d < c.v; d += 1) {
				var p = r.get(d + "");
				p === void 0 ? d in e && (p = f(() => /* @__PURE__ */ pn(E, u)), r.set(d + "", p)) : L(p, E);
			}
			if (c === void 0) (!l || a(e, t)?.writable) && (c = f(() => /* @__PURE__ */ pn(void 0, u)), L(c, xn(n)), r.set(t, c));
			else {
				l = c.v !== E;
				var m = f(() => xn(n));
				L(c, m);
			}
			var h = Reflect.getOwnPropertyDescriptor(e, t);
			if (h?.set && h.set.call(s, n), !l) {
				if (i && typeof t == "string") {
					var g = r.get("length"), _ = Number(t);
					Number.isInteger(_) && _ >= g.v && L(g, _ + 1);
				}
				yn(o);
			}
			return !0;
		},
		ownKeys(e) {
			W(o);
			var t = Reflect.ownKeys(e).filter((e) => {
				var t = r.get(e);
				return t === void 0 || t.v !== E;
			});
			for (var [n, i] of r) i.v !== E && !(n in e) && t.push(n);
			return t;
		},
		setPrototypeOf() {
			Be();
		}
	});
}
function Sn(e) {
	try {
		if (typeof e == "object" && e && se in e) return e[se];
	} catch {}
	return e;
}
function Cn(e, t) {
	return Object.is(Sn(e), Sn(t));
}
// node_modules/svelte/src/internal/client/dom/operations.js
var wn, Tn, En, Dn;
function On() {
	if (wn === void 0) {
		wn = window, Tn = /Firefox/.test(navigator.userAgent);
		var e = Element.prototype, t = Node.prototype, n = Text.prototype;
		En = a(t, "firstChild").get, Dn = a(t, "nextSibling").get, u(e) && (e[fe] = void 0, e[de] = null, e[pe] = void 0, e.__e = void 0), u(n) && (n[me] = void 0);
	}
}
function kn(e = "") {
	return document.createTextNode(e);
}
/*@__NO_SIDE_EFFECTS__*/
function An(e) {
	return En.call(e);
}
/*@__NO_SIDE_EFFECTS__*/
function jn(e) {
	return Dn.call(e);
}
function R(e, t) {
	if (!D) return /* @__PURE__ */ An(e);
	var n = /* @__PURE__ */ An(O);
	if (n === null) n = O.appendChild(kn());
	else if (t && n.nodeType !== 3) {
		var r = kn();
		return n?.before(r), we(r), r;
	}
	return t && In(n), we(n), n;
}
function Mn(e, t = !1) {
	if (!D) {
		var n = /* @__PURE__ */ An(e);
		return n instanceof Comment && n.data === "" ? /* @__PURE__ */ jn(n) : n;
	}
	if (t) {
		if (O?.nodeType !== 3) {
			var r = kn();
			return O?.before(r), we(r), r;
		}
		In(O);
	}
	return O;
}
function z(e, t = !1) {
	if (!D) return /* @__PURE__ */ An(e);
	var n = R(e, t);
	return k(e), n;
}
function B(e, t = 1, n = !1) {
	let r = D ? O : e;
	for (var i; t--;) i = r, r = /* @__PURE__ */ jn(r);
	if (!D) return r;
	if (n) {
		if (r?.nodeType !== 3) {
			var a = kn();
			return r === null ? i?.after(a) : r.before(a), we(a), a;
		}
		In(r);
	}
	return we(r), r;
}
function Nn(e) {
	e.textContent = "";
}
function Pn() {
	return !1;
}
function Fn(e, t, n) {
	return t == null || t === "http://www.w3.org/1999/xhtml" ? n ? document.createElement(e, { is: n }) : document.createElement(e) : n ? document.createElementNS(t, e, { is: n }) : document.createElementNS(t, e);
}
function In(e) {
	if (e.nodeValue.length < 65536) return;
	let t = e.nextSibling;
	for (; t !== null && t.nodeType === 3;) t.remove(), e.nodeValue += t.nodeValue, t = e.nextSibling;
}
// node_modules/svelte/src/internal/client/error-handling.js
function Ln(e) {
	var t = U;
	if (t === null) return H.f |= oe, e;
	if (!(t.f & 32768) && !(t.f & 4)) throw e;
	Rn(e, t);
}
function Rn(e, t) {
	if (e === ve) throw e;
	if (!(t !== null && t.f & 16384)) {
		for (; t !== null;) {
			if (t.f & 128 && !(t.f & 33570816)) {
				if (!(t.f & 32768)) throw e;
				try {
					t.b.error(e);
					return;
				} catch (t) {
					e = t;
				}
			}
			t = t.parent;
		}
		throw e;
	}
}
// node_modules/svelte/src/internal/client/reactivity/effects.js
function zn(e) {
	U === null && (H === null && Ie(e), Fe()), ur && Pe(e);
}
function Bn(e, t) {
	var n = t.last;
	n === null ? t.last = t.first = e : (n.next = e, e.prev = n, t.last = e);
}
function Vn(e, t) {
	var n = U;
	n !== null && n.f & 8192 && (e |= S);
	var r = {
		ctx: Ue,
		deps: null,
		nodes: null,
		f: e | b | 512,
		first: null,
		fn: t,
		last: null,
		next: null,
		parent: n,
		b: n && n.b,
		prev: null,
		teardown: null,
		wv: 0,
		ac: null
	};
	F?.register_created_effect(r);
	var i = r;
	if (e & 4) kt === null ? Wt.ensure().schedule(r) : kt.push(r);
	else if (t !== null) {
		try {
			Mr(r);
		} catch (e) {
			throw tr(r), e;
		}
		i.deps === null && i.teardown === null && i.nodes === null && i.first === i.last && !(i.f & 524288) && (i = i.first, e & 16 && e & 65536 && i !== null && (i.f |= T));
	}
	if (i !== null && (i.parent = n, n !== null && Bn(i, n), H !== null && H.f & 2 && !(e & 64))) {
		var a = H;
		(a.effects ?? (a.effects = [])).push(i);
	}
	return r;
}
function Hn() {
	return H !== null && !fr;
}
function Un(e) {
	let t = Vn(8, null);
	return et(t, y), t.teardown = e, t;
}
function Wn(e) {
	return Vn(4 | ne, e);
}
function Gn(e) {
	return zn("$effect.pre"), Vn(8 | ne, e);
}
function Kn(e) {
	Wt.ensure();
	let t = Vn(64 | te, e);
	return (e = {}) => new Promise((n) => {
		e.outro ? ir(t, () => {
			tr(t), n(void 0);
		}) : (tr(t), n(void 0));
	});
}
function qn(e) {
	return Vn(4, e);
}
function Jn(e) {
	return Vn(ae | te, e);
}
function Yn(e, t = 0) {
	return Vn(8 | t, e);
}
function V(e, t = [], n = [], r = []) {
	st(r, t, n, (t) => {
		Vn(8, () => {
			e(...t.map(W));
		});
	});
}
function Xn(e, t = 0) {
	return Vn(16 | t, e);
}
function Zn(e) {
	return Vn(32 | te, e);
}
function Qn(e) {
	var t = e.teardown;
	if (t !== null) {
		let n = ur, r = H;
		dr(!0), pr(null);
		try {
			t.call(null);
		} catch (t) {
			Rn(t, e.parent);
		} finally {
			dr(n), pr(r);
		}
	}
}
function $n(e, t = !1) {
	var n = e.first;
	for (e.first = e.last = null; n !== null;) {
		let e = n.ac;
		e !== null && at(() => {
			e.abort(ge);
		});
		var r = n.next;
		n.f & 64 ? n.parent = null : tr(n, t), n = r;
	}
}
function er(e) {
	for (var t = e.first; t !== null;) {
		var n = t.next;
		t.f & 32 || tr(t), t = n;
	}
}
function tr(e, t = !0) {
	var n = !1;
	(t || e.f & 262144) && e.nodes !== null && e.nodes.end !== null && (nr(e.nodes.start, e.nodes.end), n = !0), e.f |= ee, $n(e, t && !n), jr(e, 0);
	var r = e.nodes && e.nodes.t;
	if (r !== null) for (let e of r) e.stop();
	Qn(e), e.f ^= ee, e.f |= C;
	var i = e.parent;
	i !== null && i.first !== null && rr(e), e.next = e.prev = e.teardown = e.ctx = e.deps = e.fn = e.nodes = e.ac = e.b = null;
}
function nr(e, t) {
	for (; e !== null;) {
		var n = e === t ? null : /* @__PURE__ */ jn(e);
		e.remove(), e = n;
	}
}
function rr(e) {
	var t = e.parent, n = e.prev, r = e.next;
	n !== null && (n.next = r), r !== null && (r.prev = n), t !== null && (t.first === e && (t.first = r), t.last === e && (t.last = n));
}
function ir(e, t, n = !0) {
	var r = [];
	e.f |= 256, ar(e, r, !0);
	var i = () => {
		n && tr(e), t && t();
	}, a = r.length;
	if (a > 0) {
		var o = () => --a || i();
		for (var s of r) s.out(o);
	} else i();
}
function ar(e, t, n) {
	if (!(e.f & 8192)) {
		e.f ^= S;
		var r = e.nodes && e.nodes.t;
		if (r !== null) for (let e of r) (e.is_global || n) && t.push(e);
		for (var i = e.first; i !== null;) {
			var a = i.next;
			if (!(i.f & 64)) {
				var o = !!(i.f & 65536) || !!(i.f & 32) && !!(e.f & 16);
				ar(i, t, o ? n : !1);
			}
			i = a;
		}
	}
}
function or(e) {
	e.f &= -257, sr(e, !0);
}
function sr(e, t) {
	if (!(e.f & 256) && e.f & 8192) {
		e.f ^= S, e.f & 1024 || (et(e, b), Wt.ensure().schedule(e));
		for (var n = e.first; n !== null;) {
			var r = n.next, i = !!(n.f & 65536) || !!(n.f & 32);
			sr(n, i ? t : !1), n = r;
		}
		var a = e.nodes && e.nodes.t;
		if (a !== null) for (let e of a) (e.is_global || t) && e.in();
	}
}
function cr(e, t) {
	if (e.nodes) for (var n = e.nodes.start, r = e.nodes.end; n !== null;) {
		var i = n === r ? null : /* @__PURE__ */ jn(n);
		t.append(n), n = i;
	}
}
// node_modules/svelte/src/internal/client/legacy.js
var lr = null, ur = !1;
function dr(e) {
	ur = e;
}
var H = null, fr = !1;
function pr(e) {
	H = e;
}
var U = null;
function mr(e) {
	U = e;
}
var hr = null;
function gr(e) {
	H !== null && (H.f & 2097152 || H.f & 2) && (hr ?? (hr = /* @__PURE__ */ new Set())).add(e);
}
var _r = null, vr = 0, yr = null;
function br(e) {
	yr = e;
}
var xr = 1, Sr = 0, Cr = Sr;
function wr(e) {
	Cr = e;
}
function Tr() {
	return ++xr;
}
function Er(e) {
	var t = e.f;
	if (t & 2048) return !0;
	if (t & 4096) {
		for (var n = e.deps, r = n.length, i = 0; i < r; i++) {
			var a = n[i];
			if (Er(a) && _t(a), a.wv > e.wv) return !0;
		}
		t & 512 && Tt === null && et(e, y);
	}
	return !1;
}
function Dr(e, t, n = !0) {
	var r = e.reactions;
	if (r !== null && !(hr !== null && hr.has(e))) for (var i = 0; i < r.length; i++) {
		var a = r[i];
		a.f & 2 ? Dr(a, t, !1) : t === a && (n ? et(a, b) : a.f & 1024 && et(a, x), on(a));
	}
}
function Or(e) {
	var t = _r, n = vr, r = yr, i = H, a = hr, o = Ue, s = fr, c = Cr, l = e.f;
	_r = null, vr = 0, yr = null, H = l & 96 ? null : e, hr = null, We(e.ctx), fr = !1, Cr = ++Sr, e.ac !== null && (at(() => {
		e.ac.abort(ge);
	}), e.ac = null);
	try {
		e.f |= ie;
		var u = (0, e.fn)();
		e.f |= w;
		var d = kr(e);
		if (Je() && yr !== null && !fr && d !== null && !(e.f & 6146)) for (var f = 0; f < yr.length; f++) Dr(yr[f], e);
		if (i !== null && i !== e) {
			if (Sr++, i.deps !== null) for (let e = 0; e < n; e += 1) i.deps[e].rv = Sr;
			if (t !== null) for (let e of t) e.rv = Sr;
			yr !== null && (r === null ? r = yr : r.push(...yr));
		}
		return e.f & 8388608 && (e.f ^= oe), u;
	} catch (t) {
		return kr(e), Ln(t);
	} finally {
		e.f ^= ie, _r = t, vr = n, yr = r, H = i, hr = a, We(o), fr = s, Cr = c;
	}
}
function kr(e) {
	var t = e.deps, n = F?.is_fork;
	if (_r !== null) {
		var r;
		if (n || jr(e, vr), t !== null && vr > 0) for (t.length = vr + _r.length, r = 0; r < _r.length; r++) t[vr + r] = _r[r];
		else e.deps = t = _r;
		if (Hn() && e.f & 512) for (r = vr; r < t.length; r++) {
			var i;
			((i = t[r]).reactions ?? (i.reactions = [])).push(e);
		}
	} else !n && t !== null && vr < t.length && (jr(e, vr), t.length = vr);
	return t;
}
function Ar(e, r) {
	let i = r.reactions;
	if (i !== null) {
		var a = t.call(i, e);
		if (a !== -1) {
			var o = i.length - 1;
			o === 0 ? i = r.reactions = null : (i[a] = i[o], i.pop());
		}
	}
	if (i === null && r.f & 2 && (_r === null || !n.call(_r, r))) {
		var s = r;
		s.f & 512 && (s.f ^= 512), s.v !== E && tt(s), s.ac !== null && at(() => {
			s.ac.abort(ge), s.ac = null, et(s, b);
		}), vt(s), jr(s, 0);
	}
}
function jr(e, t) {
	var n = e.deps;
	if (n !== null) for (var r = t; r < n.length; r++) Ar(e, n[r]);
}
function Mr(e) {
	var t = e.f;
	if (!(t & 16384)) {
		et(e, y);
		var n = U;
		U = e;
		try {
			t & 16777232 ? er(e) : $n(e), Qn(e);
			var r = Or(e);
			e.teardown = typeof r == "function" ? r : null, e.wv = xr;
		} finally {
			U = n;
		}
	}
}
async function Nr() {
	await Promise.resolve(), tn();
}
function W(e) {
	var t = !!(e.f & 2);
	if (lr?.add(e), H !== null && !fr && !(U !== null && U.f & 16384) && (hr === null || !hr.has(e))) {
		var r = H.deps;
		if (H.f & 2097152) e.rv < Sr && (e.rv = Sr, _r === null && r !== null && r[vr] === e ? vr++ : _r === null ? _r = [e] : _r.push(e));
		else {
			var i;
			(i = H).deps ?? (i.deps = []), n.call(H.deps, e) || H.deps.push(e);
			var a = e.reactions;
			a === null ? e.reactions = [H] : n.call(a, H) || a.push(H);
		}
	}
	if (ur && un.has(e)) return un.get(e);
	if (t) {
		var o = e;
		if (ur) {
			var s = o.v;
			return (!(o.f & 1024) && o.reactions !== null || Fr(o)) && (s = gt(o)), un.set(o, s), s;
		}
		var c = !(o.f & 512) && !fr && H !== null && !!(H.f & 512), l = (o.f & w) === 0;
		Er(o) && (c && (o.f |= 512), _t(o)), c && !l && (yt(o), Pr(o));
	}
	if (Tt?.has(e)) return Tt.get(e);
	if (e.f & 8388608) throw e.v;
	return e.v;
}
function Pr(e) {
	if (e.f |= 512, e.deps !== null) for (let r of e.deps) {
		var t = r.reactions;
		t === null ? r.reactions = [e] : n.call(t, e) || t.push(e), r.f & 2 && !(r.f & 512) && (yt(r), Pr(r));
	}
}
function Fr(e) {
	if (e.v === E) return !0;
	if (e.deps === null) return !1;
	for (let t of e.deps) if (un.has(t) || t.f & 2 && Fr(t)) return !0;
	return !1;
}
function Ir(e) {
	var t = fr;
	try {
		return fr = !0, e();
	} finally {
		fr = t;
	}
}
[.../* @__PURE__ */ "allowfullscreen.async.autofocus.autoplay.checked.controls.default.disabled.formnovalidate.indeterminate.inert.ismap.loop.multiple.muted.nomodule.novalidate.open.playsinline.readonly.required.reversed.seamless.selected.webkitdirectory.defer.disablepictureinpicture.disableremoteplayback".split(".")];
var Lr = ["touchstart", "touchmove"];
function Rr(e) {
	return Lr.includes(e);
}
// node_modules/svelte/src/internal/client/dom/elements/events.js
var zr = Symbol("events"), Br = /* @__PURE__ */ new Set(), Vr = /* @__PURE__ */ new Set();
function Hr(e, t, n, r = {}) {
	function i(e) {
		if (r.capture || Jr.call(t, e), !e.cancelBubble) return at(() => n?.call(this, e));
	}
	return e.startsWith("pointer") || e.startsWith("touch") || e === "wheel" ? (i.__removed = !1, Ze(() => {
		i.__removed || t.addEventListener(e, i, r);
	})) : t.addEventListener(e, i, r), i;
}
function Ur(e, t, n, r, i) {
	var a = {
		capture: r,
		passive: i
	}, o = Hr(e, t, n, a);
	(t === document.body || t === window || t === document || t instanceof HTMLMediaElement) && Un(() => {
		o.__removed = !0, t.removeEventListener(e, o, a);
	});
}
function Wr(e, t, n) {
	(t[zr] ?? (t[zr] = {}))[e] = n;
}
function Gr(e) {
	for (var t = 0; t < e.length; t++) Br.add(e[t]);
	for (var n of Vr) n(e);
}
var Kr = null, qr = !1;
function Jr(e) {
	var t = this, n = t.ownerDocument, r = e.type, a = e.composedPath?.() || [], o = a[0] || e.target;
	Kr = e, qr || (qr = !0, setTimeout(() => {
		qr = !1, Kr = null;
	}));
	var s = 0, c = Kr === e && e[zr];
	if (c) {
		var l = a.indexOf(c);
		if (l !== -1 && (t === document || t === window)) {
			e[zr] = t;
			return;
		}
		var u = a.indexOf(t);
		if (u === -1) return;
		l <= u && (s = l);
	}
	if (o = a[s] || e.target, o !== t) {
		i(e, "currentTarget", {
			configurable: !0,
			get() {
				return o || n;
			}
		});
		var d = H, f = U;
		pr(null), mr(null);
		try {
			for (var p, m = []; o !== null && o !== t;) {
				try {
					var h = o[zr]?.[r];
					h == null || o.disabled && e.target !== o || h.call(o, e);
				} catch (e) {
					p ? m.push(e) : p = e;
				}
				if (e.cancelBubble) break;
				s++, o = s < a.length ? a[s] : null;
			}
			if (p) {
				for (let e of m) queueMicrotask(() => {
					throw e;
				});
				throw p;
			}
		} finally {
			e[zr] = t, delete e.currentTarget, pr(d), mr(f);
		}
	}
}
// node_modules/svelte/src/internal/client/dom/reconciler.js
var Yr = globalThis?.window?.trustedTypes && /* @__PURE__ */ globalThis.window.trustedTypes.createPolicy("svelte-trusted-html", { createHTML: (e) => e });
function Xr(e) {
	return Yr?.createHTML(e) ?? e;
}
function Zr(e) {
	var t = Fn("template");
	return t.innerHTML = Xr(e.replaceAll("<!>", "<!---->")), t.content;
}
// node_modules/svelte/src/internal/client/dom/template.js
function Qr(e, t) {
	var n = U;
	n.nodes === null && (n.nodes = {
		start: e,
		end: t,
		a: null,
		t: null
	});
}
/*#__NO_SIDE_EFFECTS__*/
function G(e, t) {
	var n = !!(t & 1), r = !!(t & 2), i, a = !e.startsWith("<!>");
	return () => {
		if (D) return Qr(O, null), O;
		i === void 0 && (i = Zr(a ? e : "<!>" + e), n || (i = /* @__PURE__ */ An(i)));
		var t = r || Tn ? document.importNode(i, !0) : i.cloneNode(!0);
		return n ? Qr(/* @__PURE__ */ An(t), t.lastChild) : Qr(t, t), t;
	};
}
/*#__NO_SIDE_EFFECTS__*/
function $r(e, t, n = "svg") {
	var r = !e.startsWith("<!>"), i = !!(t & 1), a = `<${n}>${r ? e : "<!>" + e}</${n}>`, o;
	return () => {
		if (D) return Qr(O, null), O;
		if (!o) {
			var e = /* @__PURE__ */ An(Zr(a));
			if (i) for (o = document.createDocumentFragment(); /* @__PURE__ */ An(e);) o.appendChild(/* @__PURE__ */ An(e));
			else o = /* @__PURE__ */ An(e);
		}
		var t = o.cloneNode(!0);
		return i ? Qr(/* @__PURE__ */ An(t), t.lastChild) : Qr(t, t), t;
	};
}
/*#__NO_SIDE_EFFECTS__*/
function K(e, t) {
	return /* @__PURE__ */ $r(e, t, "svg");
}
function ei(e = "") {
	if (!D) {
		var t = kn(e + "");
		return Qr(t, t), t;
	}
	var n = O;
	return n.nodeType === 3 ? In(n) : (n.before(n = kn()), we(n)), Qr(n, n), n;
}
function ti() {
	if (D) return Qr(O, null), O;
	var e = document.createDocumentFragment(), t = document.createComment(""), n = kn();
	return e.append(t, n), Qr(t, n), e;
}
function q(e, t) {
	if (D) {
		var n = U;
		n.f & 32768 && n.nodes.end !== null || (n.nodes.end = O), Te();
	} else e !== null && e.before(t);
}
// node_modules/svelte/src/reactivity/create-subscriber.js
function ni(e) {
	let t = 0, n = fn(0), r;
	return () => {
		Hn() && (W(n), Yn(() => (t === 0 && (r = Ir(() => e(() => yn(n)))), t += 1, () => {
			Ze(() => {
				--t, t === 0 && (r?.(), r = void 0, yn(n));
			});
		})));
	};
}
// node_modules/svelte/src/internal/client/dom/blocks/boundary.js
var ri = T | te;
function ii(e, t, n, r) {
	new bi(e, t, n, r);
}
var ai = /* @__PURE__ */ new WeakMap(), oi = /* @__PURE__ */ new WeakMap(), si = /* @__PURE__ */ new WeakMap(), ci = /* @__PURE__ */ new WeakMap(), li = /* @__PURE__ */ new WeakMap(), ui = /* @__PURE__ */ new WeakMap(), di = /* @__PURE__ */ new WeakMap(), fi = /* @__PURE__ */ new WeakMap(), pi = /* @__PURE__ */ new WeakMap(), mi = /* @__PURE__ */ new WeakMap(), hi = /* @__PURE__ */ new WeakMap(), gi = /* @__PURE__ */ new WeakMap(), _i = /* @__PURE__ */ new WeakMap(), vi = /* @__PURE__ */ new WeakMap(), yi = /* @__PURE__ */ new WeakMap(), J = /* @__PURE__ */ new WeakSet(), bi = class {
	constructor(e, t, n, r) {
		xt(this, J), v(this, "parent", void 0), v(this, "is_pending", !1), v(this, "transform_error", void 0), j(this, ai, void 0), j(this, oi, D ? O : null), j(this, si, void 0), j(this, ci, void 0), j(this, li, void 0), j(this, ui, null), j(this, di, null), j(this, fi, null), j(this, pi, null), j(this, mi, 0), j(this, hi, 0), j(this, gi, !1), j(this, _i, /* @__PURE__ */ new Map()), j(this, vi, null), j(this, yi, ni(() => (P(vi, this, fn(N(mi, this))), () => {
			P(vi, this, null);
		}))), P(ai, this, e), P(si, this, t), P(ci, this, (e) => {
			var t = U;
			t.b = this, t.f |= 128, n(e);
		}), this.parent = U.b, this.transform_error = r ?? this.parent?.transform_error ?? ((e) => e), P(li, this, Xn(() => {
			if (D) {
				let e = Oe(N(oi, this));
				Te();
				let t = e === "[!";
				if (e.startsWith("[?")) {
					let t = JSON.parse(e.slice(2));
					M(J, this, Si).call(this, t);
				} else t ? M(J, this, Ti).call(this) : M(J, this, xi).call(this);
			} else M(J, this, Ei).call(this);
		}, ri)), D && P(ai, this, O);
	}
	defer_effect(e) {
		nt(e, N(_i, this));
	}
	is_rendered() {
		return !this.is_pending && (!this.parent || this.parent.is_rendered());
	}
	has_pending_snippet() {
		return !!N(si, this).pending;
	}
	update_pending_count(e, t) {
		M(J, this, ki).call(this, e, t), P(mi, this, N(mi, this) + e), N(vi, this) && !N(gi, this) && (P(gi, this, !0), Ze(() => {
			P(gi, this, !1), N(vi, this) && _n(N(vi, this), N(mi, this));
		}));
	}
	get_effect_pending() {
		return N(yi, this).call(this), W(N(vi, this));
	}
	error(e) {
		if (e === ve || !N(si, this).onerror && !N(si, this).failed) throw e;
		F?.is_fork ? (N(ui, this) && F.skip_effect(N(ui, this)), N(di, this) && F.skip_effect(N(di, this)), N(fi, this) && F.skip_effect(N(fi, this)), F.oncommit(() => {
			M(J, this, wi).call(this) || M(J, this, Ai).call(this, e);
		})) : M(J, this, Ai).call(this, e);
	}
};
function xi() {
	try {
		P(ui, this, Zn(() => N(ci, this).call(this, N(ai, this))));
	} catch (e) {
		this.error(e);
	}
}
function Si(e) {
	let t = N(si, this).failed, { reset: n, invoke_onerror: r } = M(J, this, Ci).call(this, e);
	Ze(r), t && P(fi, this, Zn(() => {
		t(N(ai, this), () => e, () => n);
	}));
}
function Ci(e) {
	var t = !1, n = !1;
	let r = () => {
		M(J, this, wi).call(this) || (t ? Se() : (t = !0, n && He(), N(fi, this) !== null && ir(N(fi, this), () => {
			P(fi, this, null);
		}), M(J, this, Oi).call(this, () => {
			M(J, this, Ei).call(this);
		})));
	};
	return {
		reset: r,
		invoke_onerror: () => {
			if (!M(J, this, wi).call(this)) try {
				n = !0, N(si, this).onerror?.(e, r), n = !1;
			} catch (e) {
				Rn(e, N(li, this) && N(li, this).parent);
			}
		}
	};
}
function wi() {
	return (N(li, this).f & (C | ee)) !== 0;
}
function Ti() {
	let e = N(si, this).pending;
	e && (this.is_pending = !0, P(di, this, Zn(() => e(N(ai, this)))), Ze(() => {
		if (!M(J, this, wi).call(this)) {
			var e = P(pi, this, document.createDocumentFragment()), t = kn(), n = !1;
			e.append(t), P(ui, this, M(J, this, Oi).call(this, () => {
				try {
					return Zn(() => N(ci, this).call(this, t));
				} catch (e) {
					try {
						this.error(e), n = !0;
					} catch (e) {
						Rn(e, N(li, this).parent);
					}
					return null;
				}
			})), N(ui, this) === null ? (P(pi, this, null), n && M(J, this, Di).call(this, F)) : N(hi, this) === 0 && (N(ai, this).before(e), P(pi, this, null), ir(N(di, this), () => {
				P(di, this, null);
			}), M(J, this, Di).call(this, F));
		}
	}));
}
function Ei() {
	try {
		if (this.is_pending = this.has_pending_snippet(), P(hi, this, 0), P(mi, this, 0), P(ui, this, Zn(() => {
			N(ci, this).call(this, N(ai, this));
		})), N(hi, this) > 0) {
			var e = P(pi, this, document.createDocumentFragment());
			cr(N(ui, this), e);
			let t = N(si, this).pending;
			P(di, this, Zn(() => t(N(ai, this))));
		} else M(J, this, Di).call(this, F);
	} catch (e) {
		this.error(e);
	}
}
function Di(e) {
	this.is_pending = !1, e.transfer_reactions(N(_i, this));
}
function Oi(e) {
	var t = U, n = H, r = Ue;
	mr(N(li, this)), pr(N(li, this)), We(N(li, this).ctx);
	try {
		return Wt.ensure(), e();
	} finally {
		mr(t), pr(n), We(r);
	}
}
function ki(e, t) {
	if (this.has_pending_snippet()) P(hi, this, N(hi, this) + e), N(hi, this) === 0 && (M(J, this, Di).call(this, t), N(di, this) && ir(N(di, this), () => {
		P(di, this, null);
	}), N(pi, this) && (N(ai, this).before(N(pi, this)), P(pi, this, null)));
	else if (this.parent) {
		var n;
		M(J, n = this.parent, ki).call(n, e, t);
	}
}
function Ai(e) {
	N(ui, this) && (tr(N(ui, this)), P(ui, this, null)), N(di, this) && (tr(N(di, this)), P(di, this, null)), N(fi, this) && (tr(N(fi, this)), P(fi, this, null)), D && (we(N(oi, this)), Ee(), we(De()));
	let t = N(si, this).failed, n = (e) => {
		if (M(J, this, wi).call(this)) return;
		let { reset: n, invoke_onerror: r } = M(J, this, Ci).call(this, e);
		r(), t && !M(J, this, wi).call(this) && P(fi, this, M(J, this, Oi).call(this, () => {
			try {
				return Zn(() => {
					var r = U;
					r.b = this, r.f |= 128, t(N(ai, this), () => e, () => n);
				});
			} catch (e) {
				return Rn(e, N(li, this).parent), null;
			}
		}));
	};
	Ze(() => {
		if (!M(J, this, wi).call(this)) {
			var t;
			try {
				t = this.transform_error(e);
			} catch (e) {
				Rn(e, N(li, this) && N(li, this).parent);
				return;
			}
			typeof t == "object" && t && typeof t.then == "function" ? t.then(n, (e) => Rn(e, N(li, this) && N(li, this).parent)) : n(t);
		}
	});
}
function Y(e, t) {
	var n = t == null ? "" : typeof t == "object" ? `${t}` : t;
	n !== (e[me] ?? (e[me] = e.nodeValue)) && (e[me] = n, e.nodeValue = `${n}`);
}
function ji(e, t) {
	return Ni(e, t);
}
var Mi = /* @__PURE__ */ new Map();
function Ni(e, { target: t, anchor: n, props: i = {}, events: a, context: o, intro: s = !0, transformError: c }) {
	On();
	var l = void 0, u = Kn(() => {
		var s = n ?? t.appendChild(kn());
		ii(s, { pending: () => {} }, (t) => {
			Ge({});
			var n = Ue;
			if (o && (n.c = o), a && (i.$$events = a), D && Qr(t, null), l = e(t, i) || qe(), D && (U.nodes.end = O, O === null || O.nodeType !== 8 || O.data !== "]")) throw be(), ve;
			Ke();
		}, c);
		var u = /* @__PURE__ */ new Set(), d = (e) => {
			for (var n = 0; n < e.length; n++) {
				var r = e[n];
				if (!u.has(r)) {
					u.add(r);
					var i = Rr(r);
					for (let e of [t, document]) {
						var a = Mi.get(e);
						a === void 0 && (a = /* @__PURE__ */ new Map(), Mi.set(e, a));
						var o = a.get(r);
						o === void 0 ? (e.addEventListener(r, Jr, { passive: i }), a.set(r, 1)) : a.set(r, o + 1);
					}
				}
			}
		};
		return d(r(Br)), Vr.add(d), () => {
			for (var e of u) for (let n of [t, document]) {
				var r = Mi.get(n), i = r.get(e);
				--i == 0 ? (n.removeEventListener(e, Jr), r.delete(e), r.size === 0 && Mi.delete(n)) : r.set(e, i);
			}
			Vr.delete(d), s !== n && s.parentNode?.removeChild(s);
		};
	});
	return Pi.set(l, u), l;
}
var Pi = /* @__PURE__ */ new WeakMap();
function Fi(e, t) {
	let n = Pi.get(e);
	return n ? (Pi.delete(e), n(t)) : Promise.resolve();
}
// node_modules/svelte/src/internal/client/dom/blocks/branches.js
var Ii = /* @__PURE__ */ new WeakMap(), Li = /* @__PURE__ */ new WeakMap(), Ri = /* @__PURE__ */ new WeakMap(), zi = /* @__PURE__ */ new WeakMap(), Bi = /* @__PURE__ */ new WeakMap(), Vi = /* @__PURE__ */ new WeakMap(), Hi = /* @__PURE__ */ new WeakMap(), Ui = class {
	constructor(e, t = !0) {
		v(this, "anchor", void 0), j(this, Ii, /* @__PURE__ */ new Map()), j(this, Li, /* @__PURE__ */ new Map()), j(this, Ri, /* @__PURE__ */ new Map()), j(this, zi, /* @__PURE__ */ new Set()), j(this, Bi, !0), j(this, Vi, (e) => {
			if (N(Ii, this).has(e)) {
				var t = N(Ii, this).get(e), n = N(Li, this).get(t);
				if (n) or(n), N(zi, this).delete(t);
				else {
					var r = N(Ri, this).get(t);
					r && (or(r.effect), N(Li, this).set(t, r.effect), N(Ri, this).delete(t), r.fragment.lastChild.remove(), this.anchor.before(r.fragment), n = r.effect);
				}
				for (let [t, n] of N(Ii, this)) {
					if (N(Ii, this).delete(t), t === e) break;
					let r = N(Ri, this).get(n);
					r && (tr(r.effect), N(Ri, this).delete(n));
				}
				for (let [e, r] of N(Li, this)) {
					if (e === t || N(zi, this).has(e)) continue;
					let i = () => {
						if (Array.from(N(Ii, this).values()).includes(e)) {
							var t = document.createDocumentFragment();
							cr(r, t), t.append(kn()), N(Ri, this).set(e, {
								effect: r,
								fragment: t
							});
						} else tr(r);
						N(zi, this).delete(e), N(Li, this).delete(e);
					};
					N(Bi, this) || !n ? (N(zi, this).add(e), ir(r, i, !1)) : i();
				}
			}
		}), j(this, Hi, (e) => {
			N(Ii, this).delete(e);
			let t = Array.from(N(Ii, this).values());
			for (let [e, n] of N(Ri, this)) t.includes(e) || (tr(n.effect), N(Ri, this).delete(e));
		}), this.anchor = e, P(Bi, this, t);
	}
	ensure(e, t) {
		var n = F, r = Pn();
		if (t && !N(Li, this).has(e) && !N(Ri, this).has(e)) {
			if (r) {
				var i = document.createDocumentFragment(), a = kn();
				i.append(a), N(Ri, this).set(e, {
					effect: Zn(() => t(a)),
					fragment: i
				});
			} else N(Li, this).set(e, Zn(() => t(this.anchor)));
		}
		if (N(Ii, this).set(n, e), r) {
			for (let [t, r] of N(Li, this)) t === e ? n.unskip_effect(r) : n.skip_effect(r);
			for (let [t, r] of N(Ri, this)) t === e ? n.unskip_effect(r.effect) : n.skip_effect(r.effect);
			n.oncommit(N(Vi, this)), n.ondiscard(N(Hi, this));
		} else D && (this.anchor = O), N(Vi, this).call(this, n);
	}
};
// node_modules/svelte/src/internal/client/dom/blocks/if.js
function X(e, t, n = !1) {
	var r;
	D && (r = O, Te());
	var i = new Ui(e), a = n ? T : 0;
	function o(e, t) {
		if (D) {
			var n = Oe(r);
			if (e !== parseInt(n.substring(1))) {
				var a = De();
				we(a), i.anchor = a, Ce(!1), i.ensure(e, t), Ce(!0);
				return;
			}
		}
		i.ensure(e, t);
	}
	Xn(() => {
		var e = !1;
		t((t, n = 0) => {
			e = !0, o(n, t);
		}), e || o(-1, null);
	}, a);
}
// node_modules/svelte/src/internal/client/dom/blocks/each.js
function Wi(e, t) {
	return t;
}
function Gi(e, t, n) {
	for (var i = [], a = t.length, o, s = t.length, c = 0; c < a; c++) {
		let n = t[c];
		ir(n, () => {
			if (o) {
				if (o.pending.delete(n), o.done.add(n), o.pending.size === 0) {
					var t = e.outrogroups;
					Ki(e, r(o.done)), t.delete(o), t.size === 0 && (e.outrogroups = null);
				}
			} else --s;
		}, !1);
	}
	if (s === 0) {
		var l = i.length === 0 && n !== null && e.pending.size === 0;
		if (l) {
			var u = n, d = u.parentNode;
			Nn(d), d.append(u), e.items.clear();
		}
		Ki(e, t, !l);
	} else o = {
		pending: new Set(t),
		done: /* @__PURE__ */ new Set()
	}, (e.outrogroups ?? (e.outrogroups = /* @__PURE__ */ new Set())).add(o);
}
function Ki(e, t, n = !0) {
	var r;
	if (e.pending.size > 0) {
		r = /* @__PURE__ */ new Set();
		for (let t of e.pending.values()) for (let n of t) r.add(e.items.get(n).e);
	}
	for (var i = 0; i < t.length; i++) {
		var a = t[i];
		r?.has(a) ? (a.f |= re, cr(a, document.createDocumentFragment())) : tr(t[i], n);
	}
}
var qi;
function Z(t, n, i, a, o, s = null) {
	var c = t, l = /* @__PURE__ */ new Map();
	if (n & 4) {
		var u = t;
		c = D ? we(/* @__PURE__ */ An(u)) : u.appendChild(kn());
	}
	D && Te();
	var d = null, f = /* @__PURE__ */ mt(() => {
		var t = i();
		return e(t) ? t : t == null ? [] : r(t);
	}), p = /* @__PURE__ */ new Map(), m = !0;
	function h(e) {
		if (!(_.effect.f & 16384)) {
			_.pending.delete(e);
			var t = W(f);
			_.fallback = d, Yi(_, t, c, n, a), d !== null && (t.length === 0 ? d.f & 33554432 ? (d.f ^= re, Zi(d, null, c)) : or(d) : ir(d, () => {
				d = null;
			}));
		}
	}
	function g(e) {
		_.pending.delete(e);
	}
	var _ = {
		effect: Xn(() => {
			var e = W(f), t = e.length;
			let r = !1;
			D && Oe(c) === "[!" != (t === 0) && (c = De(), we(c), Ce(!1), r = !0);
			for (var u = /* @__PURE__ */ new Set(), _ = F, v = Pn(), y = 0; y < t; y += 1) {
				D && O.nodeType === 8 && O.data === "]" && (c = O, r = !0, Ce(!1));
				var b = e[y], x = a(b, y), S = m ? null : l.get(x);
				S ? (S.v && _n(S.v, b), S.i && _n(S.i, y), v && _.unskip_effect(S.e)) : (S = Xi(l, m ? c : qi ?? (qi = kn()), b, x, y, o, n, i), m || (S.e.f |= re), l.set(x, S)), u.add(x);
			}
			if (t === 0 && s && !d && (m ? d = Zn(() => s(c)) : (d = Zn(() => s(qi ?? (qi = kn()))), d.f |= re)), t > u.size && Ne("", "", ""), D && t > 0 && we(De()), !m) {
				if (p.set(_, u), v) {
					for (let [e, t] of l) u.has(e) || _.skip_effect(t.e);
					_.oncommit(h), _.ondiscard(g);
				} else h(_);
			}
			r && Ce(!0), W(f);
		}),
		flags: n,
		items: l,
		pending: p,
		outrogroups: null,
		fallback: d
	};
	m = !1, D && (c = O);
}
function Ji(e) {
	for (; e !== null && !(e.f & 32);) e = e.next;
	return e;
}
function Yi(e, t, n, i, a) {
	var o = !!(i & 8), s = t.length, c = e.items, l = Ji(e.effect.first), u, d = null, f, p = [], m = [], h, g, _, v;
	if (o) for (v = 0; v < s; v += 1) h = t[v], g = a(h, v), _ = c.get(g).e, _.f & 33554432 || (_.nodes?.a?.measure(), (f ?? (f = /* @__PURE__ */ new Set())).add(_));
	for (v = 0; v < s; v += 1) {
		if (h = t[v], g = a(h, v), _ = c.get(g).e, e.outrogroups !== null) for (let t of e.outrogroups) t.pending.delete(_), t.done.delete(_);
		if (_.f & 8192 && (or(_), o && (_.nodes?.a?.unfix(), (f ?? (f = /* @__PURE__ */ new Set())).delete(_))), _.f & 33554432) {
			if (_.f ^= re, _ === l) Zi(_, null, n);
			else {
				var y = d ? d.next : l;
				_ === e.effect.last && (e.effect.last = _.prev), _.prev && (_.prev.next = _.next), _.next && (_.next.prev = _.prev), Qi(e, d, _), Qi(e, _, y), Zi(_, y, n), d = _, p = [], m = [], l = Ji(d.next);
				continue;
			}
		}
		if (_ !== l) {
			if (u !== void 0 && u.has(_)) {
				if (p.length < m.length) {
					var b = m[0], x;
					d = b.prev;
					var S = p[0], C = p[p.length - 1];
					for (x = 0; x < p.length; x += 1) Zi(p[x], b, n);
					for (x = 0; x < m.length; x += 1) u.delete(m[x]);
					Qi(e, S.prev, C.next), Qi(e, d, S), Qi(e, C, b), l = b, d = C, --v, p = [], m = [];
				} else u.delete(_), Zi(_, l, n), Qi(e, _.prev, _.next), Qi(e, _, d === null ? e.effect.first : d.next), Qi(e, d, _), d = _;
				continue;
			}
			for (p = [], m = []; l !== null && l !== _;) (u ?? (u = /* @__PURE__ */ new Set())).add(l), m.push(l), l = Ji(l.next);
			if (l === null) continue;
		}
		_.f & 33554432 || p.push(_), d = _, l = Ji(_.next);
	}
	if (e.outrogroups !== null) {
		for (let t of e.outrogroups) t.pending.size === 0 && (Ki(e, r(t.done)), e.outrogroups?.delete(t));
		e.outrogroups.size === 0 && (e.outrogroups = null);
	}
	if (l !== null || u !== void 0) {
		var w = [];
		if (u !== void 0) for (_ of u) _.f & 8192 || w.push(_);
		for (; l !== null;) !(l.f & 8192) && l !== e.fallback && w.push(l), l = Ji(l.next);
		var ee = w.length;
		if (ee > 0) {
			var T = i & 4 && s === 0 ? n : null;
			if (o) {
				for (v = 0; v < ee; v += 1) w[v].nodes?.a?.measure();
				for (v = 0; v < ee; v += 1) w[v].nodes?.a?.fix();
			}
			Gi(e, w, T);
		}
	}
	o && Ze(() => {
		if (f !== void 0) for (_ of f) _.nodes?.a?.apply();
	});
}
function Xi(e, t, n, r, i, a, o, s) {
	var c = o & 1 ? o & 16 ? fn(n) : /* @__PURE__ */ mn(n, !1, !1) : null, l = o & 2 ? fn(i) : null;
	return {
		v: c,
		i: l,
		e: Zn(() => (a(t, c ?? n, l ?? i, s), () => {
			e.delete(r);
		}))
	};
}
function Zi(e, t, n) {
	if (e.nodes) for (var r = e.nodes.start, i = e.nodes.end, a = t && !(t.f & 33554432) ? t.nodes.start : n; r !== null;) {
		var o = /* @__PURE__ */ jn(r);
		if (a.before(r), r === i) return;
		r = o;
	}
}
function Qi(e, t, n) {
	t === null ? e.effect.first = n : t.next = n, n === null ? e.effect.last = t : n.prev = t;
}
// node_modules/svelte/src/internal/client/dom/css.js
function $i(e, t) {
	qn(() => {
		e = U?.parent?.nodes?.start ?? e;
		var n = e.getRootNode(), r = n.host ? n : n.head ?? n.ownerDocument.head;
		if (!r.querySelector("#" + t.hash)) {
			let e = Fn("style");
			e.id = t.hash, e.textContent = t.code, r.appendChild(e);
		}
	});
}
// node_modules/svelte/src/internal/shared/attributes.js
var ea = [..." 	\n\r\f\xA0\v﻿"];
function ta(e, t, n) {
	var r = e == null ? "" : "" + e;
	if (t && (r = r ? r + " " + t : t), n) {
		for (var i of Object.keys(n)) if (n[i]) r = r ? r + " " + i : i;
		else if (r.length) for (var a = i.length, o = 0; (o = r.indexOf(i, o)) >= 0;) {
			var s = o + a;
			(o === 0 || ea.includes(r[o - 1])) && (s === r.length || ea.includes(r[s])) ? r = (o === 0 ? "" : r.substring(0, o)) + r.substring(s + 1) : o = s;
		}
	}
	return r === "" ? null : r;
}
function na(e, t = !1) {
	var n = t ? " !important;" : ";", r = "";
	for (var i of Object.keys(e)) {
		var a = e[i];
		a != null && a !== "" && (r += " " + i + ": " + a + n);
	}
	return r;
}
function ra(e) {
	return e[0] !== "-" || e[1] !== "-" ? e.toLowerCase() : e;
}
function ia(e, t) {
	if (t) {
		var n = "", r, i;
		if (Array.isArray(t) ? (r = t[0], i = t[1]) : r = t, e) {
			e = String(e).replaceAll(/\/\*.*?\*\//g, "").trim();
			var a = !1, o = 0, s = !1, c = [];
			r && c.push(...Object.keys(r).map(ra)), i && c.push(...Object.keys(i).map(ra));
			var l = 0, u = -1;
			let t = e.length;
			for (var d = 0; d < t; d++) {
				var f = e[d];
				if (s ? f === "/" && e[d - 1] === "*" && (s = !1) : a ? a === f && (a = !1) : f === "/" && e[d + 1] === "*" ? s = !0 : f === "\"" || f === "'" ? a = f : f === "(" ? o++ : f === ")" && o--, !s && a === !1 && o === 0) {
					if (f === ":" && u === -1) u = d;
					else if (f === ";" || d === t - 1) {
						if (u !== -1) {
							var p = ra(e.substring(l, u).trim());
							if (!c.includes(p)) {
								f !== ";" && d++;
								var m = e.substring(l, d).trim();
								n += " " + m + ";";
							}
						}
						l = d + 1, u = -1;
					}
				}
			}
		}
		return r && (n += na(r)), i && (n += na(i, !0)), n = n.trim(), n === "" ? null : n;
	}
	return e == null ? null : String(e);
}
// node_modules/svelte/src/internal/client/dom/elements/class.js
function aa(e, t, n, r, i, a) {
	var o = e[fe];
	if (D || o !== n || o === void 0) {
		var s = ta(n, r, a);
		D && s === e.getAttribute("class") || (s == null ? e.removeAttribute("class") : t ? e.className = s : e.setAttribute("class", s)), e[fe] = n;
	} else if (a && i !== a) for (var c in a) {
		var l = !!a[c];
		(i == null || l !== !!i[c]) && e.classList.toggle(c, l);
	}
	return a;
}
// node_modules/svelte/src/internal/client/dom/elements/style.js
function oa(e, t = {}, n, r) {
	for (var i in n) {
		var a = n[i];
		t[i] !== a && (n[i] == null ? e.style.removeProperty(i) : e.style.setProperty(i, a, r));
	}
}
function sa(e, t, n, r) {
	var i = e[pe];
	if (D || i !== t) {
		var a = ia(t, r);
		D && a === e.getAttribute("style") || (a == null ? e.removeAttribute("style") : e.style.cssText = a), e[pe] = t;
	} else r && (Array.isArray(r) ? (oa(e, n?.[0], r[0]), oa(e, n?.[1], r[1], "important")) : oa(e, n, r));
	return r;
}
// node_modules/svelte/src/internal/client/dom/elements/bindings/select.js
function ca(e, t) {
	t ? e.hasAttribute("selected") || e.setAttribute("selected", "") : e.removeAttribute("selected");
}
function la(t, n) {
	var r = t.__defaultValue, i = t.multiple, a = i ? r ?? [] : null;
	if (!i || e(a)) {
		var o = t.selectedIndex, s = n && i ? new Set(t.selectedOptions) : null;
		for (var c of t.options) {
			var l = pa(c);
			ca(c, i ? a.includes(l) : Cn(l, r));
		}
		if (n) {
			if (s !== null) for (c of t.options) {
				var u = s.has(c);
				c.selected !== u && (c.selected = u);
			}
			else t.selectedIndex !== o && (t.selectedIndex = o);
		}
	}
}
function ua(t, n, r = !1) {
	if (t.multiple) {
		if (n == null) return;
		if (!e(n)) return xe();
		for (var i of t.options) i.selected = n.includes(pa(i));
	} else {
		for (i of t.options) if (Cn(pa(i), n)) {
			i.selected = !0;
			return;
		}
		r && n === void 0 || (t.selectedIndex = -1);
	}
}
function da(e) {
	var t = new MutationObserver((t) => {
		t.every(ma) || ("__defaultValue" in e && la(e, !1), "__value" in e && ua(e, e.__value));
	});
	t.observe(e, {
		childList: !0,
		subtree: !0,
		attributes: !0,
		attributeFilter: ["value"]
	}), Un(() => {
		t.disconnect();
	});
}
function fa(e, t, n = t) {
	var r = /* @__PURE__ */ new WeakSet(), i = !0;
	ot(e, "change", (t) => {
		var i = t ? "[selected]" : ":checked", a;
		if (e.multiple) a = [].map.call(e.querySelectorAll(i), pa);
		else {
			var o = e.querySelector(i) ?? e.querySelector("option:not([disabled])");
			a = o && pa(o);
		}
		n(a), e.__value = a, F !== null && r.add(F);
	}), qn(() => {
		var a = t();
		if (e === document.activeElement) {
			var o = F;
			if (r.has(o)) return;
		}
		if (ua(e, a, i), i && a === void 0) {
			var s = e.querySelector(":checked");
			s !== null && (a = pa(s), n(a));
		}
		e.__value = a, i = !1;
	});
}
function pa(e) {
	return "__value" in e ? e.__value : e.value;
}
function ma(e) {
	if (e.target.closest("selectedcontent") !== null) return !0;
	if (e.type === "childList") {
		var t = [...e.addedNodes, ...e.removedNodes];
		return t.length > 0 && t.every((e) => e.nodeName === "SELECTEDCONTENT");
	}
	return !1;
}
// node_modules/svelte/src/internal/client/dom/elements/attributes.js
var ha = Symbol("is custom element"), ga = Symbol("is html"), _a = _e ? "link" : "LINK";
function va(e) {
	if (D) {
		var t = !1, n = () => {
			if (!t) {
				if (t = !0, e.hasAttribute("value")) {
					var n = e.value;
					Q(e, "value", null), e.value = n;
				}
				if (e.hasAttribute("checked")) {
					var r = e.checked;
					Q(e, "checked", null), e.checked = r;
				}
			}
		};
		e[he] = n, Ze(n), it();
	}
}
function Q(e, t, n, r) {
	var i = ya(e);
	if (!(D && (i[t] = e.getAttribute(t), t === "src" || t === "srcset" || t === "href" && e.nodeName === _a))) {
		var a = i[t];
		a !== (i[t] = n) && (t === "loading" && (e[ue] = n), n == null ? e.removeAttribute(t) : typeof n != "string" && xa(e).has(t) ? e[t] = n : (!D || typeof n != "number" && typeof n != "boolean" || a !== String(n)) && e.setAttribute(t, n));
	}
}
function ya(e) {
	return e[de] ?? (e[de] = {
		[ha]: e.nodeName.includes("-"),
		[ga]: e.namespaceURI === "http://www.w3.org/1999/xhtml"
	});
}
var ba = /* @__PURE__ */ new Map();
function xa(e) {
	var t = e.getAttribute("is") || e.nodeName, n = ba.get(t);
	if (n) return n;
	ba.set(t, n = /* @__PURE__ */ new Set());
	for (var r, i = e, a = Element.prototype; a !== i;) {
		for (var s in r = o(i), r) r[s].set && s !== "innerHTML" && s !== "textContent" && s !== "innerText" && n.add(s);
		i = l(i);
	}
	return n;
}
// node_modules/svelte/src/internal/client/dom/elements/bindings/input.js
function Sa(e, t, n = t) {
	var r = /* @__PURE__ */ new WeakSet();
	ot(e, "input", async (i) => {
		var a = i ? e.defaultValue : e.value;
		if (a = Ca(e) ? wa(a) : a, n(a), F !== null && r.add(F), await Nr(), a !== (a = t())) {
			var o = e.selectionStart, s = e.selectionEnd, c = e.value.length;
			if (e.value = a ?? "", s !== null) {
				var l = e.value.length;
				o === s && s === c && l > c ? (e.selectionStart = l, e.selectionEnd = l) : (e.selectionStart = o, e.selectionEnd = Math.min(s, l));
			}
		}
	}), (D && e.defaultValue !== e.value || Ir(t) == null && e.value) && (n(Ca(e) ? wa(e.value) : e.value), F !== null && r.add(F)), Yn(() => {
		var n = t();
		if (e === document.activeElement) {
			var i = F;
			if (r.has(i)) return;
		}
		Ca(e) && n === wa(e.value) || (e.type !== "date" || n || e.value) && n !== e.value && (e.value = n ?? "");
	});
}
function Ca(e) {
	var t = e.type;
	return t === "number" || t === "range";
}
function wa(e) {
	return e === "" ? null : +e;
}
// node_modules/svelte/src/internal/client/dom/elements/bindings/size.js
var Ta, Ea = /* @__PURE__ */ new WeakMap(), Da = /* @__PURE__ */ new WeakMap(), Oa = /* @__PURE__ */ new WeakMap(), ka = /* @__PURE__ */ new WeakSet(), Aa = class {
	constructor(e) {
		xt(this, ka), j(this, Ea, /* @__PURE__ */ new WeakMap()), j(this, Da, void 0), j(this, Oa, void 0), P(Oa, this, e);
	}
	observe(e, t) {
		var n = N(Ea, this).get(e) || /* @__PURE__ */ new Set();
		return n.add(t), N(Ea, this).set(e, n), M(ka, this, ja).call(this).observe(e, N(Oa, this)), () => {
			var n = N(Ea, this).get(e);
			n.delete(t), n.size === 0 && (N(Ea, this).delete(e), N(Da, this).unobserve(e));
		};
	}
};
Ta = Aa;
function ja() {
	return N(Da, this) ?? P(Da, this, new ResizeObserver((e) => {
		for (var t of e) {
			Ta.entries.set(t.target, t);
			for (var n of N(Ea, this).get(t.target) || []) n(t);
		}
	}));
}
v(Aa, "entries", /* @__PURE__ */ new WeakMap());
// node_modules/svelte/src/internal/client/reactivity/store.js
var Ma = !1;
function Na(e) {
	var t = Ma;
	try {
		return Ma = !1, [e(), Ma];
	} finally {
		Ma = t;
	}
}
// node_modules/svelte/src/internal/client/reactivity/props.js
function Pa(e, t, n, r) {
	var i = !0, o = !!(n & 8), s = !!(n & 16), c = r, l = !0, u = void 0, d = () => s && i ? (u ?? (u = /* @__PURE__ */ dt(r)), W(u)) : (l && (l = !1, c = s ? Ir(r) : r), c);
	let f;
	if (o) {
		var p = se in e || le in e;
		f = a(e, t)?.set ?? (p && t in e ? (n) => e[t] = n : void 0);
	}
	var m, h = !1;
	o ? [m, h] = Na(() => e[t]) : m = e[t], m === void 0 && r !== void 0 && (m = d(), f && (i && Re(t), f(m)));
	var g = i ? () => {
		var n = e[t];
		return n === void 0 ? d() : (l = !0, n);
	} : () => {
		var n = e[t];
		return n !== void 0 && (c = void 0), n === void 0 ? c : n;
	};
	if (i && !(n & 4)) return g;
	if (f) {
		var _ = e.$$legacy;
		return (function(e, t) {
			return arguments.length > 0 ? ((!i || !t || _ || h) && f(t ? g() : e), e) : g();
		});
	}
	var v = !1, y = (n & 1 ? dt : mt)(() => (v = !1, g()));
	o && W(y);
	var b = U;
	return (function(e, t) {
		if (arguments.length > 0) {
			let n = t ? W(y) : i && o ? xn(e) : e;
			return L(y, n), v = !0, c !== void 0 && (c = n), e;
		}
		return ur && v || b.f & 16384 ? y.v : W(y);
	});
}
// node_modules/svelte/src/internal/disclose-version.js
if (typeof window < "u") {
	var Fa, Ia;
	((Fa = (Ia = window).__svelte ?? (Ia.__svelte = {})).v ?? (Fa.v = /* @__PURE__ */ new Set())).add("5");
}
// src/lib/format.js
function $(e, t = 3) {
	return e == null || Number.isNaN(e) ? "–" : typeof e == "number" ? e.toFixed(t) : String(e);
}
function La(e) {
	return e == null ? "–" : Math.round(e).toLocaleString("en-US");
}
function Ra(e, t = 1) {
	return e == null ? "–" : `${(100 * e).toFixed(t)}%`;
}
function za(e, t = 1) {
	return e == null ? "–" : `${e >= 0 ? "+" : ""}${(100 * e).toFixed(t)}%`;
}
function Ba(e) {
	return e == null ? "–" : e < 1e3 ? `${e} B` : e < 1e6 ? `${(e / 1e3).toFixed(1)} kB` : e < 1e9 ? `${(e / 1e6).toFixed(1)} MB` : `${(e / 1e9).toFixed(2)} GB`;
}
function Va(e, t, n = 5) {
	if (!(t > e)) return [e];
	let r = (t - e) / n, i = 10 ** Math.floor(Math.log10(r)), a = [
		1,
		2,
		2.5,
		5,
		10
	].map((e) => e * i).find((e) => e >= r) || r, o = [];
	for (let n = Math.ceil(e / a) * a; n <= t + a * 1e-9; n += a) o.push(+n.toPrecision(12));
	return o;
}
function Ha(e, t, n, r) {
	let i = t - e || 1;
	return (t) => n + (t - e) / i * (r - n);
}
function Ua(e, t = 0) {
	let n = e.filter((e) => e != null && Number.isFinite(e));
	if (!n.length) return [0, 1];
	let r = Math.min(...n), i = Math.max(...n);
	r === i && (r -= .5, i += .5);
	let a = (i - r) * t;
	return [r - a, i + a];
}
function Wa(e) {
	let t = e.length > 1 ? Math.abs(e[1] - e[0]) : Math.abs(e[0] || 1), n = t > 0 ? Math.max(0, Math.min(6, Math.ceil(-Math.log10(t) + 1e-9) + +!!t.toPrecision(2).includes("5"))) : 2;
	return (e) => e.toFixed(n);
}
function Ga(e) {
	return e == null ? "–" : String(Number(Number(e).toFixed(4)));
}
function Ka(e) {
	if (e == null) return "–";
	let t = Math.abs(e);
	return t !== 0 && (t < .001 || t >= 1e4) ? e.toExponential(2) : e.toFixed(4);
}
// src/components/CircuitGraph.svelte
var qa = /* @__PURE__ */ K("<rect x=\"0\"></rect><text x=\"6\" class=\"layer svelte-1jpxs1n\"></text>", 1), Ja = /* @__PURE__ */ K("<path fill=\"none\"><title> </title></path>"), Ya = /* @__PURE__ */ K("<g role=\"button\" tabindex=\"-1\"><rect rx=\"4\" class=\"svelte-1jpxs1n\"></rect><text y=\"4\" class=\"svelte-1jpxs1n\"> </text></g>"), Xa = /* @__PURE__ */ G("<div>no edges at this size</div>"), Za = /* @__PURE__ */ G("<td class=\"svelte-1jpxs1n\"> </td>"), Qa = /* @__PURE__ */ G("<tr><td class=\"svelte-1jpxs1n\"> </td><td class=\"n svelte-1jpxs1n\"> </td><!></tr>"), $a = /* @__PURE__ */ G("<div class=\"muted svelte-1jpxs1n\"> </div> <table class=\"svelte-1jpxs1n\"><tbody></tbody></table>", 1), eo = /* @__PURE__ */ G("<div data-testid=\"node-tip\"><strong> </strong> <!></div>"), to = /* @__PURE__ */ G("<div class=\"graph svelte-1jpxs1n\" data-testid=\"circuit-graph\"><div class=\"scroll svelte-1jpxs1n\"><svg width=\"100%\" role=\"img\" class=\"svelte-1jpxs1n\"><!><g class=\"edges\"></g><g class=\"nodes\"></g></svg></div> <!></div>"), no = {
	hash: "svelte-1jpxs1n",
	code: ".graph.svelte-1jpxs1n {position:relative;}.scroll.svelte-1jpxs1n {overflow-x:auto;}.tip.above.svelte-1jpxs1n {transform:translateY(-100%);}svg.svelte-1jpxs1n {display:block;font:10px system-ui, sans-serif;}.layer.svelte-1jpxs1n {fill:#777;font-size:10px;}.node.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {fill:#fff;stroke:#c9ccd1;stroke-width:1;}.node.svelte-1jpxs1n text:where(.svelte-1jpxs1n) {text-anchor:middle;fill:#aaa;font-size:9.5px;pointer-events:none;}.node.used.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {stroke:#555;}.node.used.svelte-1jpxs1n text:where(.svelte-1jpxs1n) {fill:#222;}.node.head.used.svelte-1jpxs1n rect:where(.svelte-1jpxs1n), .node.kv.used.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {fill:#ffd48a;}.node.kv.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {stroke-dasharray:3 2;}.node.mlp.used.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {fill:#a8dba0;}.node.embed.svelte-1jpxs1n rect:where(.svelte-1jpxs1n), .node.logits.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {fill:#e3e3e3;stroke:#555;}.node.embed.svelte-1jpxs1n text:where(.svelte-1jpxs1n), .node.logits.svelte-1jpxs1n text:where(.svelte-1jpxs1n) {fill:#222;}.node.hovered.svelte-1jpxs1n rect:where(.svelte-1jpxs1n) {stroke:#000;stroke-width:2;}.node.svelte-1jpxs1n {cursor:default;outline:none;}.tip.svelte-1jpxs1n {position:absolute;z-index:5;background:#fff;border:1px solid #999;border-radius:6px;padding:6px 8px;font-size:12px;box-shadow:0 2px 8px rgba(0,0,0,.15);pointer-events:none;white-space:nowrap;}.tip.svelte-1jpxs1n table:where(.svelte-1jpxs1n) {border-collapse:collapse;margin-top:4px;}.tip.svelte-1jpxs1n td:where(.svelte-1jpxs1n) {padding:1px 6px 1px 0;font-family:ui-monospace, monospace;font-size:11px;}.tip.svelte-1jpxs1n td.n:where(.svelte-1jpxs1n) {text-align:right;}.muted.svelte-1jpxs1n {color:#666;}"
};
function ro(e, t) {
	Ge(t, !0), $i(e, no);
	let n = Pa(t, "edges", 19, () => []), r = Pa(t, "mode", 3, "sign"), i = Pa(t, "labels", 19, () => ({
		a: "this",
		b: "other"
	})), a = /* @__PURE__ */ pn(null), o = /* @__PURE__ */ pn(xn({
		x: 0,
		y: 0,
		above: !1
	})), s = /* @__PURE__ */ A(() => t.layout.n_heads), c = /* @__PURE__ */ A(() => t.layout.n_layers), l = /* @__PURE__ */ A(() => Math.max(1, Math.floor(t.layout.n_heads / t.layout.n_kv_heads))), u = /* @__PURE__ */ A(() => 70 + (W(s) + 1) * 62 + 20), d = /* @__PURE__ */ A(() => 26 + (W(c) + 1) * 58 + 24);
	function f(e) {
		if (e.kind === "embed") return [70 + (W(s) - 1) / 2 * 62, 26];
		if (e.kind === "logits") return [70 + (W(s) - 1) / 2 * 62, 26 + (W(c) + 1) * 58];
		let t = 26 + (e.layer + 1) * 58;
		return e.kind === "head" ? [70 + e.index * 62, t] : e.kind === "kv" ? [70 + (e.index * W(l) + (W(l) - 1) / 2) * 62, t - 20.88] : [70 + W(s) * 62, t + 24.36];
	}
	let p = /* @__PURE__ */ A(() => Object.fromEntries(t.layout.nodes.map((e) => [e.name, f(e)]))), m = /* @__PURE__ */ A(() => new Set(n().flatMap((e) => [e.src, e.dest]))), h = /* @__PURE__ */ A(() => Math.max(1e-12, ...n().map((e) => Math.abs(e.score ?? 0)))), g = {
		q: -12,
		k: 0,
		v: 12,
		"": 0
	};
	function _(e) {
		let [t, n] = W(p)[e.src], [r, i] = W(p)[e.dest], a = r + (e.dest.includes(".h") ? g[e.kind] : e.kind === "k" ? -7 : e.kind === "v" ? 7 : 0), o = n + 9, s = i - 9, c = Math.max(18, (s - o) * .45);
		return `M${t},${o} C${t},${o + c} ${a},${s - c} ${a},${s}`;
	}
	function v(e) {
		return r() === "side" ? e.side === "both" ? "#8c8c8c" : e.side === "a" ? "#e6550d" : "#6a51a3" : (e.score ?? 0) >= 0 ? "#1f5fbf" : "#d62728";
	}
	let y = {
		q: "",
		k: "7 4",
		v: "2 3",
		"": ""
	};
	function b(e) {
		return n().filter((t) => t.src === e || t.dest === e).sort((e, t) => Math.abs(t.score ?? 0) - Math.abs(e.score ?? 0));
	}
	function x(e, t) {
		L(a, e.name, !0);
		let n = t.currentTarget.ownerSVGElement, r = n.getBoundingClientRect(), [i, s] = W(p)[e.name], c = i / W(u) * r.width - n.parentElement.scrollLeft, l = s / W(d) * r.height;
		L(o, {
			x: c + 28,
			y: l > r.height / 2 ? l - 12 : l + 12,
			above: l > r.height / 2
		}, !0);
	}
	let S = /* @__PURE__ */ A(() => W(a) ? b(W(a)).slice(0, 8) : []), C = /* @__PURE__ */ A(() => W(a) ? b(W(a)).length : 0), w = (e) => e.kind === "head" ? `a${e.layer}.h${e.index}` : e.kind === "kv" ? `kv${e.index}` : e.name;
	var ee = to(), T = R(ee), te = R(T), ne = R(te);
	Z(ne, 17, () => Array(W(c)), Wi, (e, t, n) => {
		var r = qa(), i = Mn(r);
		Q(i, "y", 26 + (n + 1) * 58 - 29), Q(i, "height", 58), Q(i, "fill", n % 2 ? "#f4f5f7" : "#fbfbfc");
		var a = B(i);
		Q(a, "y", 26 + (n + 1) * 58 + 4), a.textContent = `layer ${n}`, V(() => Q(i, "width", W(u))), q(e, r);
	});
	var re = B(ne);
	Z(re, 21, n, (e) => e.name, (e, t) => {
		var n = Ja(), i = z(R(n));
		k(n), V((e, r, o, s) => {
			Q(n, "d", e), Q(n, "data-edge", W(t).name), Q(n, "stroke", r), Q(n, "stroke-width", o), Q(n, "stroke-dasharray", y[W(t).kind]), Q(n, "opacity", W(a) ? W(t).src === W(a) || W(t).dest === W(a) ? .95 : .08 : .7), Y(i, `${W(t).name ?? ""}: ${s ?? ""}`);
		}, [
			() => _(W(t)),
			() => v(W(t)),
			() => r() === "side" ? 1.8 : .6 + 4.4 * Math.abs(W(t).score ?? 0) / W(h),
			() => Ka(W(t).score)
		]), q(e, n);
	}), k(re);
	var ie = B(re);
	Z(ie, 21, () => t.layout.nodes, (e) => e.name, (e, t) => {
		let n = /* @__PURE__ */ A(() => W(p)[W(t).name]);
		var r = Ya();
		let i;
		var o = R(r);
		Q(o, "x", -23), Q(o, "y", -9), Q(o, "width", 46), Q(o, "height", 18);
		var s = z(B(o), !0);
		k(r), V((e, o) => {
			i = aa(r, 0, `node ${W(t).kind ?? ""}`, "svelte-1jpxs1n", i, {
				used: e,
				hovered: W(a) === W(t).name
			}), Q(r, "data-node", W(t).name), Q(r, "transform", `translate(${W(n)[0] ?? ""},${W(n)[1] ?? ""})`), Y(s, o);
		}, [() => W(m).has(W(t).name), () => w(W(t))]), Ur("mouseenter", r, (e) => x(W(t), e)), Ur("mouseleave", r, () => L(a, null)), q(e, r);
	}), k(ie), k(te), k(T);
	var ae = B(T, 2), oe = (e) => {
		var t = eo();
		let n;
		var s = R(t), c = z(s, !0), l = B(s, 2), u = (e) => {
			q(e, Xa());
		}, d = (e) => {
			var t = $a(), n = Mn(t), a = z(n), o = B(n, 2), s = R(o);
			Z(s, 21, () => W(S), (e) => e.name, (e, t) => {
				var n = Qa(), a = R(n), o = z(a, !0), s = B(a), c = z(s, !0), l = B(s), u = (e) => {
					var n = Za(), r = z(n, !0);
					V(() => Y(r, W(t).side === "both" ? "both" : W(t).side === "a" ? `only ${i().a}` : `only ${i().b}`)), q(e, n);
				};
				X(l, (e) => {
					r() === "side" && e(u);
				}), k(n), V((e) => {
					Q(n, "data-edge", W(t).name), Y(o, W(t).name), Y(c, e);
				}, [() => Ka(W(t).score)]), q(e, n);
			}), k(s), k(o), V(() => Y(a, `${W(C) ?? ""} edge${W(C) === 1 ? "" : "s"}${W(C) > 8 ? ", strongest 8" : ""}`)), q(e, t);
		};
		X(l, (e) => {
			W(C) === 0 ? e(u) : e(d, -1);
		}), k(t), V(() => {
			n = aa(t, 1, "tip svelte-1jpxs1n", null, n, { above: W(o).above }), sa(t, `left: ${W(o).x ?? ""}px; top: ${W(o).y ?? ""}px`), Y(c, W(a));
		}), q(e, t);
	};
	X(ae, (e) => {
		W(a) && e(oe);
	}), k(ee), V((e) => {
		Q(te, "viewBox", `0 0 ${W(u) ?? ""} ${W(d) ?? ""}`), sa(te, `max-width: ${e ?? ""}px`), Q(te, "aria-label", `circuit graph with ${n().length ?? ""} edges`);
	}, [() => Math.max(W(u) * 1.25, 560)]), q(e, ee), Ke();
}
// src/components/CurvePlot.svelte
var io = /* @__PURE__ */ K("<line class=\"grid svelte-152zii0\"></line><text class=\"tick svelte-152zii0\" text-anchor=\"end\"> </text>", 1), ao = /* @__PURE__ */ K("<text class=\"tick svelte-152zii0\" text-anchor=\"middle\"> </text>"), oo = /* @__PURE__ */ K("<circle r=\"3\" class=\"pt svelte-152zii0\"><title> </title></circle>"), so = /* @__PURE__ */ K("<circle r=\"5\" data-testid=\"curve-marker\"></circle>"), co = /* @__PURE__ */ K("<line class=\"mark svelte-152zii0\"></line><!>", 1), lo = /* @__PURE__ */ K("<svg width=\"100%\" data-testid=\"curve-plot\" role=\"img\" aria-label=\"faithfulness curve\" class=\"svelte-152zii0\"><!><!><line class=\"one svelte-152zii0\"></line><path class=\"curve svelte-152zii0\"></path><!><!><text class=\"label svelte-152zii0\" text-anchor=\"middle\">edges in the circuit (log scale)</text><text x=\"12\" class=\"label svelte-152zii0\" text-anchor=\"middle\">faithfulness</text></svg>"), uo = {
	hash: "svelte-152zii0",
	code: "svg.svelte-152zii0 {font:10px system-ui, sans-serif;}.grid.svelte-152zii0 {stroke:#eee;}.one.svelte-152zii0 {stroke:#999;stroke-dasharray:4 3;}.tick.svelte-152zii0 {fill:#666;}.label.svelte-152zii0 {fill:#444;font-size:11px;}.curve.svelte-152zii0 {fill:none;stroke:#1f5fbf;stroke-width:2;}.pt.svelte-152zii0 {fill:#1f5fbf;}.mark.svelte-152zii0 {stroke:#e6550d;stroke-width:1.5;}.marker.svelte-152zii0 {fill:#fff;stroke:#e6550d;stroke-width:2.5;}.marker.measured.svelte-152zii0 {fill:#e6550d;}"
};
function fo(e, t) {
	Ge(t, !0), $i(e, uo);
	let n = Pa(t, "curve", 19, () => []), r = Pa(t, "marker", 3, null), i = /* @__PURE__ */ A(() => n().filter((e) => e.edges > 0 && e.faithfulness !== null)), a = /* @__PURE__ */ A(() => W(i).map((e) => Math.log10(e.edges))), o = /* @__PURE__ */ A(() => Ua([
		...W(i).map((e) => e.faithfulness),
		0,
		1
	], .06)), s = /* @__PURE__ */ A(() => m(W(o), 2)), c = /* @__PURE__ */ A(() => W(s)[0]), l = /* @__PURE__ */ A(() => W(s)[1]), u = /* @__PURE__ */ A(() => Ha(Math.min(...W(a), 0), Math.max(...W(a), 1), 48, 406)), d = /* @__PURE__ */ A(() => Ha(W(c), W(l), 184, 12)), f = /* @__PURE__ */ A(() => Va(W(c), W(l), 5)), p = /* @__PURE__ */ A(() => Wa(W(f))), h = /* @__PURE__ */ A(() => W(i).map((e, t) => `${t ? "L" : "M"}${W(u)(W(a)[t])},${W(d)(e.faithfulness)}`).join(" ")), g = /* @__PURE__ */ A(() => Va(Math.floor(Math.min(...W(a), 0)), Math.ceil(Math.max(...W(a), 1)), 6).filter(Number.isInteger));
	var _ = lo();
	Q(_, "viewBox", "0 0 420 220"), sa(_, "max-width: 420px");
	var v = R(_);
	Z(v, 17, () => W(f), Wi, (e, t) => {
		var n = io(), r = Mn(n);
		Q(r, "x1", 48), Q(r, "x2", 406);
		var i = B(r);
		Q(i, "x", 42);
		var a = z(i, !0);
		V((e, t, n, o) => {
			Q(r, "y1", e), Q(r, "y2", t), Q(i, "y", n), Y(a, o);
		}, [
			() => W(d)(W(t)),
			() => W(d)(W(t)),
			() => W(d)(W(t)) + 4,
			() => W(p)(W(t))
		]), q(e, n);
	});
	var y = B(v);
	Z(y, 17, () => W(g), Wi, (e, t) => {
		var n = ao();
		Q(n, "y", 200);
		var r = z(n, !0);
		V((e, t) => {
			Q(n, "x", e), Y(r, t);
		}, [() => W(u)(W(t)), () => La(10 ** W(t))]), q(e, n);
	});
	var b = B(y);
	Q(b, "x1", 48), Q(b, "x2", 406);
	var x = B(b), S = B(x);
	Z(S, 17, () => W(i), Wi, (e, t, n) => {
		var r = oo(), i = z(R(r));
		k(r), V((e, t, n, a, o) => {
			Q(r, "cx", e), Q(r, "cy", t), Y(i, `${n ?? ""} edges (${a ?? ""}%): ${o ?? ""}`);
		}, [
			() => W(u)(W(a)[n]),
			() => W(d)(W(t).faithfulness),
			() => La(W(t).edges),
			() => $(100 * W(t).fraction, 1),
			() => $(W(t).faithfulness)
		]), q(e, r);
	});
	var C = B(S), w = (e) => {
		var t = co(), n = Mn(t);
		Q(n, "y1", 12), Q(n, "y2", 184);
		var i = B(n), a = (e) => {
			var t = so();
			let n;
			V((e, i) => {
				Q(t, "cx", e), Q(t, "cy", i), n = aa(t, 0, "marker svelte-152zii0", null, n, { measured: r().measured });
			}, [() => W(u)(Math.log10(r().edges)), () => W(d)(r().faithfulness)]), q(e, t);
		};
		X(i, (e) => {
			r().faithfulness !== null && r().faithfulness !== void 0 && e(a);
		}), V((e, t) => {
			Q(n, "x1", e), Q(n, "x2", t);
		}, [() => W(u)(Math.log10(r().edges)), () => W(u)(Math.log10(r().edges))]), q(e, t);
	};
	X(C, (e) => {
		r() && r().edges > 0 && e(w);
	});
	var ee = B(C);
	Q(ee, "x", 227), Q(ee, "y", 216);
	var T = B(ee);
	Q(T, "y", 98), Q(T, "transform", "rotate(-90 12 98)"), k(_), V((e, t) => {
		Q(b, "y1", e), Q(b, "y2", t), Q(x, "d", W(h));
	}, [() => W(d)(1), () => W(d)(1)]), q(e, _), Ke();
}
// src/components/Histogram.svelte
var po = /* @__PURE__ */ G("<p class=\"muted svelte-91c6my\">No per-example values were recorded for this circuit.</p>"), mo = /* @__PURE__ */ K("<line class=\"grid svelte-91c6my\"></line><text class=\"tick svelte-91c6my\" text-anchor=\"end\"> </text>", 1), ho = /* @__PURE__ */ K("<rect class=\"bar svelte-91c6my\"><title> </title></rect>"), go = /* @__PURE__ */ K("<text class=\"tick svelte-91c6my\" text-anchor=\"middle\"> </text>"), _o = /* @__PURE__ */ K("<line class=\"median svelte-91c6my\"></line><line class=\"q svelte-91c6my\"></line><line class=\"q svelte-91c6my\"></line>", 1), vo = /* @__PURE__ */ K("<svg width=\"100%\" data-testid=\"spread-histogram\" role=\"img\" aria-label=\"per-example faithfulness\" class=\"svelte-91c6my\"><!><!><!><!><text class=\"label svelte-91c6my\" text-anchor=\"middle\">faithfulness of each example</text></svg>"), yo = {
	hash: "svelte-91c6my",
	code: "svg.svelte-91c6my {font:10px system-ui, sans-serif;}.grid.svelte-91c6my {stroke:#eee;}.tick.svelte-91c6my {fill:#666;}.label.svelte-91c6my {fill:#444;font-size:11px;}.bar.svelte-91c6my {fill:#7aa6e0;}.median.svelte-91c6my {stroke:#e6550d;stroke-width:2;}.q.svelte-91c6my {stroke:#e6550d;stroke-dasharray:3 3;}.muted.svelte-91c6my {color:#666;}"
};
function bo(e, t) {
	Ge(t, !0), $i(e, yo);
	let n = Pa(t, "values", 19, () => []), r = Pa(t, "spread", 19, () => ({})), i = /* @__PURE__ */ A(() => {
		if (!n().length) return [];
		let [e, t] = Ua(n()), r = Math.min(24, Math.max(5, Math.ceil(Math.log2(n().length) + 1))), i = (t - e) / r, a = Array(r).fill(0);
		for (let t of n()) a[Math.min(r - 1, Math.floor((t - e) / i))] += 1;
		return a.map((t, n) => ({
			lo: e + n * i,
			hi: e + (n + 1) * i,
			count: t
		}));
	}), a = /* @__PURE__ */ A(() => Ha(W(i).length ? W(i)[0].lo : 0, W(i).length ? W(i)[W(i).length - 1].hi : 1, 40, 408)), o = /* @__PURE__ */ A(() => W(i).length ? Va(W(i)[0].lo, W(i)[W(i).length - 1].hi, 5) : []), s = /* @__PURE__ */ A(() => Wa(W(o))), c = /* @__PURE__ */ A(() => Math.max(1, ...W(i).map((e) => e.count))), l = /* @__PURE__ */ A(() => Ha(0, W(c), 164, 12));
	var u = ti(), d = Mn(u), f = (e) => {
		q(e, po());
	}, p = (e) => {
		var t = vo();
		Q(t, "viewBox", "0 0 420 200"), sa(t, "max-width: 420px");
		var n = R(t);
		Z(n, 17, () => Va(0, W(c), 4).filter(Number.isInteger), Wi, (e, t) => {
			var n = mo(), r = Mn(n);
			Q(r, "x1", 40), Q(r, "x2", 408);
			var i = B(r);
			Q(i, "x", 35);
			var a = z(i, !0);
			V((e, n, o) => {
				Q(r, "y1", e), Q(r, "y2", n), Q(i, "y", o), Y(a, W(t));
			}, [
				() => W(l)(W(t)),
				() => W(l)(W(t)),
				() => W(l)(W(t)) + 4
			]), q(e, n);
		});
		var u = B(n);
		Z(u, 17, () => W(i), Wi, (e, t) => {
			var n = ho(), r = z(R(n));
			k(n), V((e, i, a, o, s, c) => {
				Q(n, "x", e), Q(n, "y", i), Q(n, "width", a), Q(n, "height", o), Y(r, `${s ?? ""} to ${c ?? ""}: ${W(t).count ?? ""}`);
			}, [
				() => W(a)(W(t).lo) + .5,
				() => W(l)(W(t).count),
				() => Math.max(0, W(a)(W(t).hi) - W(a)(W(t).lo) - 1),
				() => 164 - W(l)(W(t).count),
				() => $(W(t).lo, 2),
				() => $(W(t).hi, 2)
			]), q(e, n);
		});
		var d = B(u);
		Z(d, 17, () => W(o), Wi, (e, t) => {
			var n = go();
			Q(n, "y", 178);
			var r = z(n, !0);
			V((e, t) => {
				Q(n, "x", e), Y(r, t);
			}, [() => W(a)(W(t)), () => W(s)(W(t))]), q(e, n);
		});
		var f = B(d), p = (e) => {
			var t = _o(), n = Mn(t);
			Q(n, "y1", 12), Q(n, "y2", 164);
			var i = B(n);
			Q(i, "y1", 12), Q(i, "y2", 164);
			var o = B(i);
			Q(o, "y1", 12), Q(o, "y2", 164), V((e, t, r, a, s, c) => {
				Q(n, "x1", e), Q(n, "x2", t), Q(i, "x1", r), Q(i, "x2", a), Q(o, "x1", s), Q(o, "x2", c);
			}, [
				() => W(a)(r().median),
				() => W(a)(r().median),
				() => W(a)(r().q1),
				() => W(a)(r().q1),
				() => W(a)(r().q3),
				() => W(a)(r().q3)
			]), q(e, t);
		};
		X(f, (e) => {
			r().median !== null && r().median !== void 0 && e(p);
		});
		var m = B(f);
		Q(m, "x", 224), Q(m, "y", 196), k(t), q(e, t);
	};
	X(d, (e) => {
		n().length ? e(p, -1) : e(f);
	}), q(e, u), Ke();
}
// src/components/CircuitPanel.svelte
var xo = /* @__PURE__ */ G("<div><span class=\"k svelte-1f4tphd\">CPR / CMD</span> </div>"), So = /* @__PURE__ */ G("<p class=\"note svelte-1f4tphd\" data-testid=\"circuit-note\"> </p>"), Co = /* @__PURE__ */ G("<span class=\"muted svelte-1f4tphd\">(found on different tasks)</span>"), wo = /* @__PURE__ */ G("<div class=\"diff svelte-1f4tphd\" data-testid=\"circuit-diff\">Comparing with <b> </b>: Jaccard index <b data-testid=\"jaccard\"> </b>; <span class=\"sw a svelte-1f4tphd\"></span> <b data-testid=\"only-a\"> </b>, <span class=\"sw b svelte-1f4tphd\"></span> <b data-testid=\"only-b\"> </b>, <span class=\"sw both svelte-1f4tphd\"></span> in both: <b data-testid=\"both\"> </b>. <!> <!> <div class=\"muted svelte-1f4tphd\">Both circuits are drawn as recorded; the size slider applies without a comparison.</div></div>"), To = /* @__PURE__ */ G("<span class=\"muted svelte-1f4tphd\"> </span>"), Eo = /* @__PURE__ */ G("<div class=\"slider svelte-1f4tphd\"><label for=\"size\">circuit size</label> <input id=\"size\" type=\"range\" min=\"0\" step=\"1\" data-testid=\"size-slider\" class=\"svelte-1f4tphd\"/> <span data-testid=\"size-readout\"><b> </b> <b data-testid=\"after-pruning\"> </b> after pruning</span></div> <div class=\"readout svelte-1f4tphd\">faithfulness at this size: <b data-testid=\"size-faithfulness\"> </b> <span class=\"muted svelte-1f4tphd\"> </span> <!></div>", 1), Do = /* @__PURE__ */ G("<span class=\"sw a svelte-1f4tphd\"></span> <span class=\"sw b svelte-1f4tphd\"></span> <span class=\"sw both svelte-1f4tphd\"></span> both", 1), Oo = /* @__PURE__ */ G("<span class=\"sw pos svelte-1f4tphd\"></span> positive score <span class=\"sw neg svelte-1f4tphd\"></span> negative score;\n            width ∝ |score|", 1), ko = /* @__PURE__ */ G("<!> <div class=\"legend muted svelte-1f4tphd\"><!> · q solid, k dashed, v dotted · hover a node for its edges</div>", 1), Ao = /* @__PURE__ */ G("<p class=\"muted svelte-1f4tphd\">No faithfulness curve was recorded for this circuit.</p>"), jo = /* @__PURE__ */ G("<div class=\"panel svelte-1f4tphd\" data-testid=\"circuit-panel\"><div class=\"facts svelte-1f4tphd\"><div><span class=\"k svelte-1f4tphd\">task</span> </div> <div><span class=\"k svelte-1f4tphd\">method</span> </div> <div><span class=\"k svelte-1f4tphd\">model</span> <span class=\"muted svelte-1f4tphd\"> </span></div> <div><span class=\"k svelte-1f4tphd\">recorded circuit</span> <b data-testid=\"edges-kept\"> </b> </div> <div><span class=\"k svelte-1f4tphd\">faithfulness</span> <b data-testid=\"faithfulness\"> </b> <span class=\"muted svelte-1f4tphd\"> </span></div> <!></div> <!> <!> <div class=\"row svelte-1f4tphd\"><div class=\"main svelte-1f4tphd\"><!></div> <div class=\"side svelte-1f4tphd\"><h3 class=\"svelte-1f4tphd\">Faithfulness curve</h3> <!> <h3 class=\"svelte-1f4tphd\">Per-example faithfulness <span class=\"muted svelte-1f4tphd\"> </span></h3> <!></div></div></div>"), Mo = {
	hash: "svelte-1f4tphd",
	code: ".panel.svelte-1f4tphd {font:13px system-ui, sans-serif;color:#222;}.facts.svelte-1f4tphd {display:flex;flex-wrap:wrap;gap:4px 22px;margin-bottom:8px;}.k.svelte-1f4tphd {color:#666;margin-right:3px;}.muted.svelte-1f4tphd {color:#666;}.note.svelte-1f4tphd {background:#fff6e0;border:1px solid #f0c36d;padding:6px 10px;border-radius:5px;}.slider.svelte-1f4tphd {display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin:8px 0 2px;}.slider.svelte-1f4tphd input:where(.svelte-1f4tphd) {width:min(460px, 90%);}.readout.svelte-1f4tphd {margin-bottom:8px;}.row.svelte-1f4tphd {display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start;}.main.svelte-1f4tphd {flex:1 1 480px;min-width:320px;}.side.svelte-1f4tphd {flex:0 1 430px;}h3.svelte-1f4tphd {font-size:13px;margin:10px 0 4px;}.legend.svelte-1f4tphd {margin-top:4px;font-size:12px;}.sw.svelte-1f4tphd {display:inline-block;width:14px;height:4px;vertical-align:middle;margin:0 3px 0 8px;}.sw.pos.svelte-1f4tphd {background:#1f5fbf;}.sw.neg.svelte-1f4tphd {background:#d62728;}.sw.a.svelte-1f4tphd {background:#e6550d;}.sw.b.svelte-1f4tphd {background:#6a51a3;}.sw.both.svelte-1f4tphd {background:#8c8c8c;}.diff.svelte-1f4tphd {background:#f4f1fa;border:1px solid #cfc6e6;padding:6px 10px;border-radius:5px;margin:8px 0;}"
};
function No(e, t) {
	Ge(t, !0), $i(e, Mo);
	let n = Pa(t, "diff", 3, null), r = /* @__PURE__ */ pn(0);
	Gn(() => {
		L(r, t.view.default_position, !0);
	});
	let i = /* @__PURE__ */ A(() => t.view.circuit), a = /* @__PURE__ */ A(() => t.view.sizes), o = /* @__PURE__ */ A(() => W(a)[W(r)] ?? 0), s = (e, t) => e.spans.some(([e, n]) => e <= t && (n === null || t < n)), c = /* @__PURE__ */ A(() => t.view.edges.filter((e) => s(e, W(r)))), l = /* @__PURE__ */ A(() => t.view.after_pruning[W(r)] ?? W(c).length), u = /* @__PURE__ */ A(() => (W(i).curve || []).filter((e) => e.edges > 0 && e.faithfulness !== null)), d = /* @__PURE__ */ A(() => {
		if (W(r) === t.view.default_position && W(i).faithfulness !== null && W(i).params?.edges === W(o)) return {
			edges: W(o),
			faithfulness: W(i).faithfulness,
			measured: !0,
			how: "measured (the recorded circuit)"
		};
		let e = W(u).find((e) => e.edges === W(o));
		if (e) return {
			edges: W(o),
			faithfulness: e.faithfulness,
			measured: !0,
			how: "measured on the curve"
		};
		let n = [...W(u)].reverse().find((e) => e.edges < W(o)), a = W(u).find((e) => e.edges > W(o));
		if (!n || !a) return {
			edges: W(o),
			faithfulness: null,
			measured: !1,
			how: "not measured at this size"
		};
		let s = (Math.log10(W(o)) - Math.log10(n.edges)) / (Math.log10(a.edges) - Math.log10(n.edges));
		return {
			edges: W(o),
			faithfulness: n.faithfulness + s * (a.faithfulness - n.faithfulness),
			measured: !1,
			how: `read off the curve between ${La(n.edges)} and ${La(a.edges)} edges`
		};
	}), f = /* @__PURE__ */ A(() => n() ? n().edges : W(c));
	var p = jo(), m = R(p), h = R(m), g = B(R(h));
	k(h);
	var _ = B(h, 2), v = B(R(_));
	k(_);
	var y = B(_, 2), b = B(R(y)), x = z(B(b));
	k(y);
	var S = B(y, 2), C = B(R(S), 2), w = z(C, !0), ee = B(C);
	k(S);
	var T = B(S, 2), te = B(R(T), 2), ne = z(te, !0), re = z(B(te, 2));
	k(T);
	var ie = B(T, 2), ae = (e) => {
		var t = xo(), n = B(R(t));
		k(t), V((e, t) => Y(n, ` ${e ?? ""} / ${t ?? ""}`), [() => $(W(i).areas.cpr), () => $(W(i).areas.cmd)]), q(e, t);
	};
	X(ie, (e) => {
		W(i).areas?.cpr !== void 0 && W(i).areas?.cpr !== null && e(ae);
	}), k(m);
	var oe = B(m, 2), se = (e) => {
		var n = So(), r = z(n, !0);
		V(() => Y(r, t.view.note)), q(e, n);
	};
	X(oe, (e) => {
		t.view.note && e(se);
	});
	var ce = B(oe, 2), le = (e) => {
		var t = wo(), r = B(R(t)), i = z(r, !0), a = B(r, 2), o = z(a, !0), s = B(a, 3), c = B(s), l = z(c, !0), u = B(c, 3), d = B(u), f = z(d, !0), p = B(d, 4), m = z(p, !0), h = B(p, 2), g = (e) => {
			var t = ei();
			V((e, r) => Y(t, `Heads only in ${n().a ?? ""}: ${e ?? ""}; only in ${n().b ?? ""}: ${r ?? ""}.`), [() => n().heads_only_a.join(", ") || "none", () => n().heads_only_b.join(", ") || "none"]), q(e, t);
		};
		X(h, (e) => {
			(n().heads_only_a.length || n().heads_only_b.length) && e(g);
		});
		var _ = B(h, 2), v = (e) => {
			q(e, Co());
		};
		X(_, (e) => {
			n().same_task || e(v);
		}), Ee(2), k(t), V((e) => {
			Y(i, n().b), Y(o, e), Y(s, ` only in ${n().a ?? ""}: `), Y(l, n().only_a), Y(u, ` only in ${n().b ?? ""}: `), Y(f, n().only_b), Y(m, n().both);
		}, [() => $(n().jaccard)]), q(e, t);
	}, ue = (e) => {
		var t = Eo(), n = Mn(t), s = B(R(n), 2);
		va(s);
		var u = B(s, 2), f = R(u), p = z(f, !0), m = B(f), h = z(B(m), !0);
		Ee(), k(u), k(n);
		var g = B(n, 2), _ = B(R(g)), v = z(_, !0), y = B(_, 2), b = z(y, !0), x = B(y, 2), S = (e) => {
			var t = To(), n = z(t);
			V((e) => Y(n, `· drawing the ${e ?? ""} edges that enter first`), [() => La(W(c).length)]), q(e, t);
		};
		X(x, (e) => {
			W(l) > W(c).length && e(S);
		}), k(g), V((e, t, n, r, i) => {
			Q(s, "max", W(a).length - 1), Y(p, e), Y(m, ` edges chosen (${t ?? ""} of ${n ?? ""}), `), Y(h, r), Y(v, i), Y(b, W(d).how);
		}, [
			() => La(W(o)),
			() => Ra(W(o) / W(i).edges_total, 2),
			() => La(W(i).edges_total),
			() => La(W(l)),
			() => $(W(d).faithfulness)
		]), Sa(s, () => W(r), (e) => L(r, e)), q(e, t);
	};
	X(ce, (e) => {
		n() ? e(le) : t.view.layout && W(a).length > 1 && e(ue, 1);
	});
	var de = B(ce, 2), fe = R(de), pe = R(fe), me = (e) => {
		var r = ko(), i = Mn(r);
		{
			let e = /* @__PURE__ */ A(() => n() ? "side" : "sign"), r = /* @__PURE__ */ A(() => n() ? {
				a: n().a,
				b: n().b
			} : void 0);
			ro(i, {
				get layout() {
					return t.view.layout;
				},
				get edges() {
					return W(f);
				},
				get mode() {
					return W(e);
				},
				get labels() {
					return W(r);
				}
			});
		}
		var a = B(i, 2), o = R(a), s = (e) => {
			var t = Do(), r = B(Mn(t)), i = B(r, 2);
			Ee(2), V(() => {
				Y(r, ` only in ${n().a ?? ""} `), Y(i, ` only in ${n().b ?? ""} `);
			}), q(e, t);
		}, c = (e) => {
			var t = Oo();
			Ee(3), q(e, t);
		};
		X(o, (e) => {
			n() ? e(s) : e(c, -1);
		}), Ee(), k(a), q(e, r);
	};
	X(pe, (e) => {
		t.view.layout && e(me);
	}), k(fe);
	var he = B(fe, 2), ge = B(R(he), 2), _e = (e) => {
		{
			let t = /* @__PURE__ */ A(() => n() ? null : W(d));
			fo(e, {
				get curve() {
					return W(i).curve;
				},
				get marker() {
					return W(t);
				}
			});
		}
	}, ve = (e) => {
		q(e, Ao());
	};
	X(ge, (e) => {
		W(u).length ? e(_e) : e(ve, -1);
	});
	var E = B(ge, 2), ye = z(B(R(E)));
	k(E);
	var be = B(E, 2);
	{
		let e = /* @__PURE__ */ A(() => W(i).spread?.values ?? []), t = /* @__PURE__ */ A(() => W(i).spread ?? {});
		bo(be, {
			get values() {
				return W(e);
			},
			get spread() {
				return W(t);
			}
		});
	}
	k(he), k(de), k(p), V((e, t, n, r, a) => {
		Y(g, ` ${W(i).task ?? ""}`), Y(v, ` ${W(i).method ?? ""}${W(i).params?.selection ? `, ${W(i).params.selection} selection` : ""}`), Y(b, ` ${W(i).model_spec ?? ""} `), Y(x, `(${W(i).model_fingerprint ?? ""})`), Y(w, e), Y(ee, ` of ${t ?? ""} edges`), Y(ne, n), Y(re, `(test split; median ${r ?? ""}, IQR ${a ?? ""})`), Y(ye, `(n = ${W(i).spread?.n ?? 0 ?? ""})`);
	}, [
		() => La(W(i).edges_kept),
		() => La(W(i).edges_total),
		() => $(W(i).faithfulness),
		() => $(W(i).spread?.median),
		() => $(W(i).spread?.iqr)
	]), q(e, p), Ke();
}
// src/components/Heatmap.svelte
var Po = /* @__PURE__ */ K("<text class=\"tick svelte-19whtww\" text-anchor=\"middle\"></text>"), Fo = /* @__PURE__ */ K("<text class=\"cell svelte-19whtww\" text-anchor=\"middle\"> </text>"), Io = /* @__PURE__ */ K("<rect><title> </title></rect><!>", 1), Lo = /* @__PURE__ */ K("<g role=\"button\" tabindex=\"0\"><text class=\"name svelte-19whtww\" text-anchor=\"end\"> </text><!></g>"), Ro = /* @__PURE__ */ K("<svg width=\"100%\" data-testid=\"layer-heatmap\" role=\"img\" aria-label=\"per-layer similarity\" class=\"svelte-19whtww\"><!><!></svg>"), zo = {
	hash: "svelte-19whtww",
	code: "svg.svelte-19whtww {font:10px system-ui, sans-serif;}.tick.svelte-19whtww {fill:#555;}.name.svelte-19whtww {fill:#333;font-size:11px;}.row.svelte-19whtww {cursor:pointer;outline:none;}.row.selected.svelte-19whtww .name:where(.svelte-19whtww) {font-weight:bold;fill:#a63603;}.diverges.svelte-19whtww {stroke:#000;stroke-width:2;}.cell.svelte-19whtww {font-size:9px;pointer-events:none;}"
};
function Bo(e, t) {
	Ge(t, !0), $i(e, zo);
	let n = Pa(t, "rows", 19, () => []), r = Pa(t, "metric", 3, "cka"), i = Pa(t, "selected", 3, null), a = Pa(t, "onselect", 3, () => {}), o = /* @__PURE__ */ A(() => Math.max(0, ...n().map((e) => e.layers.length))), s = /* @__PURE__ */ A(() => n().flatMap((e) => e.layers.map((e) => e[r()])).filter((e) => e !== null)), c = /* @__PURE__ */ A(() => r() === "cka" ? Math.min(...W(s), .9) : Math.max(...W(s), .1));
	function l(e) {
		let t = r() === "cka" ? (1 - e) / (1 - W(c) || 1) : e / (W(c) || 1);
		return Math.max(0, Math.min(1, t));
	}
	function u(e) {
		if (e == null) return "#eee";
		let t = l(e);
		return `rgb(${Math.round(255 - t * 90)},${Math.round(255 - t * 240)},${Math.round(255 - t * 234)})`;
	}
	var d = Ro(), f = R(d);
	Z(f, 17, () => Array(W(o)), Wi, (e, t, n) => {
		var r = Po();
		Q(r, "x", 130 + n * 34 + 17), Q(r, "y", 15), r.textContent = n, q(e, r);
	}), Z(B(f), 19, n, (e) => e.key, (e, t, n) => {
		var s = Lo();
		let c;
		var d = R(s);
		Q(d, "x", 122);
		var f = z(d, !0);
		Z(B(d), 17, () => W(t).layers, Wi, (e, i, a) => {
			var s = Io(), c = Mn(s);
			Q(c, "x", 130 + a * 34), Q(c, "width", 32), Q(c, "height", 32), Q(c, "data-layer", a);
			let d;
			var f = z(R(c));
			k(c);
			var p = B(c), m = (e) => {
				var t = Fo();
				Q(t, "x", 130 + a * 34 + 17 - 1);
				var o = z(t, !0);
				V((e, r) => {
					Q(t, "y", 22 + W(n) * 34 + 17 + 3), Q(t, "fill", e), Y(o, r);
				}, [() => W(i)[r()] !== null && l(W(i)[r()]) > .6 ? "#fff" : "#222", () => $(W(i)[r()], 2)]), q(e, t);
			};
			X(p, (e) => {
				W(o) <= 16 && e(m);
			}), V((e, r, i) => {
				Q(c, "y", 22 + W(n) * 34), Q(c, "fill", e), d = aa(c, 0, "svelte-19whtww", null, d, { diverges: W(t).first_diverging_layer === a }), Y(f, `${W(t).label ?? ""}, layer ${a}: CKA ${r ?? ""}, relative error ${i ?? ""}`);
			}, [
				() => u(W(i)[r()]),
				() => $(W(i).cka, 4),
				() => $(W(i).relative_error, 4)
			]), q(e, s);
		}), k(s), V(() => {
			c = aa(s, 0, "row svelte-19whtww", null, c, { selected: W(t).name === i() }), Q(s, "data-row", W(t).name), Q(d, "y", 22 + W(n) * 34 + 17 + 4), Y(f, W(t).label);
		}), Wr("click", s, () => a()(W(t).name)), Wr("keydown", s, (e) => e.key === "Enter" && a()(W(t).name)), q(e, s);
	}), k(d), V(() => {
		Q(d, "viewBox", `0 0 ${130 + W(o) * 34 + 10} ${22 + n().length * 34 + 8}`), sa(d, `max-width: ${130 + W(o) * 34 + 10}px`);
	}), q(e, d), Ke();
}
Gr(["click", "keydown"]);
// src/components/Scatter.svelte
var Vo = /* @__PURE__ */ K("<line class=\"grid svelte-711u5y\"></line><text class=\"tick svelte-711u5y\" text-anchor=\"end\"> </text>", 1), Ho = /* @__PURE__ */ K("<text class=\"tick svelte-711u5y\" text-anchor=\"middle\"> </text>"), Uo = /* @__PURE__ */ K("<g role=\"button\" tabindex=\"0\"><circle class=\"svelte-711u5y\"></circle><text class=\"name svelte-711u5y\"> </text><title> </title></g>"), Wo = /* @__PURE__ */ K("<svg width=\"100%\" data-testid=\"size-scatter\" role=\"img\" class=\"svelte-711u5y\"><!><!><!><text class=\"label svelte-711u5y\" text-anchor=\"middle\"> </text><text x=\"12\" class=\"label svelte-711u5y\" text-anchor=\"middle\"> </text></svg>"), Go = {
	hash: "svelte-711u5y",
	code: "svg.svelte-711u5y {font:10px system-ui, sans-serif;}.grid.svelte-711u5y {stroke:#eee;}.tick.svelte-711u5y {fill:#555;}.label.svelte-711u5y {fill:#444;font-size:11px;}.pt.svelte-711u5y {cursor:pointer;outline:none;}.pt.svelte-711u5y circle:where(.svelte-711u5y) {fill:#7aa6e0;stroke:#1f5fbf;stroke-width:1.5;}.pt.base.svelte-711u5y circle:where(.svelte-711u5y) {fill:#333;stroke:#000;cursor:default;}.pt.selected.svelte-711u5y circle:where(.svelte-711u5y) {fill:#e6550d;stroke:#a63603;}.name.svelte-711u5y {fill:#333;font-size:10.5px;}"
};
function Ko(e, t) {
	Ge(t, !0), $i(e, Go);
	let n = Pa(t, "points", 19, () => []), r = Pa(t, "xLabel", 3, "size"), i = Pa(t, "yLabel", 3, ""), a = Pa(t, "selected", 3, null), o = Pa(t, "onselect", 3, () => {}), s = /* @__PURE__ */ A(() => Ua(n().map((e) => e.x), .12)), c = /* @__PURE__ */ A(() => m(W(s), 2)), l = /* @__PURE__ */ A(() => W(c)[0]), u = /* @__PURE__ */ A(() => W(c)[1]), d = /* @__PURE__ */ A(() => Ua(n().map((e) => e.y), .15)), f = /* @__PURE__ */ A(() => m(W(d), 2)), p = /* @__PURE__ */ A(() => W(f)[0]), h = /* @__PURE__ */ A(() => W(f)[1]), g = /* @__PURE__ */ A(() => Ha(W(l), W(u), 64, 424)), _ = /* @__PURE__ */ A(() => Ha(W(p), W(h), 210, 14)), v = /* @__PURE__ */ A(() => Va(W(p), W(h), 5)), y = /* @__PURE__ */ A(() => Wa(W(v)));
	var b = Wo();
	Q(b, "viewBox", "0 0 440 250"), sa(b, "max-width: 440px");
	var x = R(b);
	Z(x, 17, () => W(v), Wi, (e, t) => {
		var n = Vo(), r = Mn(n);
		Q(r, "x1", 64), Q(r, "x2", 424);
		var i = B(r);
		Q(i, "x", 58);
		var a = z(i, !0);
		V((e, t, n, o) => {
			Q(r, "y1", e), Q(r, "y2", t), Q(i, "y", n), Y(a, o);
		}, [
			() => W(_)(W(t)),
			() => W(_)(W(t)),
			() => W(_)(W(t)) + 4,
			() => W(y)(W(t))
		]), q(e, n);
	});
	var S = B(x);
	Z(S, 17, () => Va(W(l), W(u), 4), Wi, (e, t) => {
		var n = Ho();
		Q(n, "y", 225);
		var r = z(n, !0);
		V((e, t) => {
			Q(n, "x", e), Y(r, t);
		}, [() => W(g)(W(t)), () => Ba(W(t))]), q(e, n);
	});
	var C = B(S);
	Z(C, 17, n, (e) => e.name, (e, t) => {
		var n = Uo();
		let r;
		var i = R(n), s = B(i), c = z(s, !0), l = z(B(s));
		k(n), V((e, o, u, d, f, p, m) => {
			r = aa(n, 0, "pt svelte-711u5y", null, r, {
				base: W(t).base,
				selected: W(t).name === a()
			}), Q(n, "data-point", W(t).name), Q(i, "cx", e), Q(i, "cy", o), Q(i, "r", W(t).name === a() ? 7 : 5), Q(s, "x", u), Q(s, "y", d), Q(s, "text-anchor", f), Y(c, W(t).name), Y(l, `${W(t).name ?? ""}: ${p ?? ""} at ${m ?? ""}`);
		}, [
			() => W(g)(W(t).x),
			() => W(_)(W(t).y),
			() => W(g)(W(t).x) > 264 ? W(g)(W(t).x) - 9 : W(g)(W(t).x) + 9,
			() => W(_)(W(t).y) + 4,
			() => W(g)(W(t).x) > 264 ? "end" : "start",
			() => $(W(t).y),
			() => Ba(W(t).x)
		]), Wr("click", n, () => !W(t).base && o()(W(t).name)), Wr("keydown", n, (e) => e.key === "Enter" && !W(t).base && o()(W(t).name)), q(e, n);
	});
	var w = B(C);
	Q(w, "x", 244), Q(w, "y", 246);
	var ee = z(w, !0), T = B(w);
	Q(T, "y", 112), Q(T, "transform", "rotate(-90 12 112)");
	var te = z(T, !0);
	k(b), V(() => {
		Q(b, "aria-label", `${i() ?? ""} against ${r() ?? ""}`), Y(ee, r()), Y(te, i());
	}), q(e, b), Ke();
}
Gr(["click", "keydown"]);
// src/components/ComparisonPanel.svelte
var qo = /* @__PURE__ */ G("<option> </option>"), Jo = /* @__PURE__ */ G("<tr><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td></tr>"), Yo = /* @__PURE__ */ G("<tr><td class=\"svelte-u0egal\"> </td><td class=\"prompt svelte-u0egal\"> </td><td class=\"svelte-u0egal\"> </td><td> </td><td class=\"svelte-u0egal\"> </td></tr>"), Xo = /* @__PURE__ */ G("<table class=\"flips svelte-u0egal\" data-testid=\"flips-table\"><thead><tr><th class=\"svelte-u0egal\">#</th><th class=\"svelte-u0egal\">prompt</th><th class=\"svelte-u0egal\">metric base → version</th><th class=\"svelte-u0egal\">answer</th><th class=\"svelte-u0egal\">KL</th></tr></thead><tbody></tbody></table>"), Zo = /* @__PURE__ */ G("<br/> ", 1), Qo = /* @__PURE__ */ G("<p class=\"muted svelte-u0egal\" data-testid=\"no-flips\">No answer flipped. Changed most: <!></p>"), $o = /* @__PURE__ */ G("<p class=\"muted svelte-u0egal\">This comparison measured no circuits (<code>--circuits none</code>).</p>"), es = /* @__PURE__ */ G("<div class=\"bar svelte-u0egal\"><div class=\"fill svelte-u0egal\"></div></div> <p> <b data-testid=\"overlap-jaccard\"> </b>.</p> <p> </p>", 1), ts = /* @__PURE__ */ G("<p class=\"note svelte-u0egal\"> </p>"), ns = /* @__PURE__ */ G("· <a data-testid=\"overlap-link\"> </a>", 1), rs = /* @__PURE__ */ G("<p><a>open the base's circuit</a> <!></p>"), is = /* @__PURE__ */ G("<p> <b> </b> <b> </b> on the base).</p> <!> <!> <!>", 1), as = /* @__PURE__ */ G("<div class=\"grid2 svelte-u0egal\"><div class=\"svelte-u0egal\"><h3 class=\"svelte-u0egal\">Examples that flip on <span data-testid=\"selected-version\"> </span> <span class=\"muted svelte-u0egal\"> </span></h3> <!></div> <div data-testid=\"circuit-overlap\" class=\"svelte-u0egal\"><h3 class=\"svelte-u0egal\">Circuit overlap</h3> <!></div></div>"), os = /* @__PURE__ */ G("<div class=\"panel svelte-u0egal\" data-testid=\"comparison-panel\"><div class=\"facts svelte-u0egal\"><div><span class=\"k svelte-u0egal\">base</span> <b> </b> <span class=\"muted svelte-u0egal\"> </span></div> <div><span class=\"k svelte-u0egal\">versions</span> </div> <label><span class=\"k svelte-u0egal\">task</span> <select data-testid=\"task-select\"></select></label> <div><span class=\"k svelte-u0egal\"> </span> </div></div> <div class=\"grid2 svelte-u0egal\"><div class=\"svelte-u0egal\"><h3 class=\"svelte-u0egal\"> <select data-testid=\"metric-select\"></select></h3> <!></div> <div class=\"svelte-u0egal\"><h3 class=\"svelte-u0egal\">Residual stream per layer against the base <select data-testid=\"heatmap-select\"><option>relative error</option><option>linear CKA</option></select></h3> <!> <p class=\"muted small svelte-u0egal\">Outlined: the first layer past CKA 0.99 or relative error 0.1.</p></div></div> <table class=\"versions svelte-u0egal\" data-testid=\"versions-table\"><thead><tr class=\"svelte-u0egal\"><th class=\"svelte-u0egal\">version</th><th class=\"svelte-u0egal\">operation</th><th class=\"svelte-u0egal\">size</th><th class=\"svelte-u0egal\">metric</th><th class=\"svelte-u0egal\">accuracy</th><th class=\"svelte-u0egal\">top-1</th><th class=\"svelte-u0egal\">KL</th><th class=\"svelte-u0egal\">flips −/+</th><th class=\"svelte-u0egal\">diverges at</th><th class=\"svelte-u0egal\">base circuit on it</th><th class=\"svelte-u0egal\">own circuit</th><th class=\"svelte-u0egal\">Jaccard</th></tr></thead><tbody></tbody></table> <!></div>"), ss = {
	hash: "svelte-u0egal",
	code: ".panel.svelte-u0egal {font:13px system-ui, sans-serif;color:#222;}.facts.svelte-u0egal {display:flex;flex-wrap:wrap;gap:6px 22px;align-items:center;margin-bottom:6px;}.k.svelte-u0egal {color:#666;margin-right:3px;}.muted.svelte-u0egal {color:#666;}.small.svelte-u0egal {font-size:11px;margin:2px 0;}.grid2.svelte-u0egal {display:flex;flex-wrap:wrap;gap:24px;}.grid2.svelte-u0egal > div:where(.svelte-u0egal) {flex:1 1 420px;min-width:300px;}h3.svelte-u0egal {font-size:13px;margin:12px 0 4px;}table.svelte-u0egal {border-collapse:collapse;font-size:12px;}th.svelte-u0egal, td.svelte-u0egal {padding:3px 7px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top;}th.svelte-u0egal {background:#f4f5f7;font-weight:600;}.versions.svelte-u0egal tr:where(.svelte-u0egal) {cursor:pointer;}.versions.svelte-u0egal tr.selected:where(.svelte-u0egal) td:where(.svelte-u0egal) {background:#fff0e6;}.prompt.svelte-u0egal {max-width:360px;}.bad.svelte-u0egal {color:#b00;}.bar.svelte-u0egal {width:260px;height:10px;background:#eee;border-radius:5px;overflow:hidden;}.fill.svelte-u0egal {height:100%;background:#6a51a3;}.note.svelte-u0egal {background:#fff6e0;border:1px solid #f0c36d;padding:4px 8px;border-radius:5px;}"
};
function cs(e, t) {
	Ge(t, !0), $i(e, ss);
	let n = Pa(t, "link", 3, null), r = /* @__PURE__ */ A(() => t.view.comparison), i = /* @__PURE__ */ pn(""), a = /* @__PURE__ */ pn(null), o = /* @__PURE__ */ pn("task_metric"), s = /* @__PURE__ */ pn("relative_error");
	Gn(() => {
		L(i, W(r).tasks[0], !0), L(a, W(r).versions.find((e) => e.task === W(r).tasks[0])?.name ?? null, !0);
	});
	let c = /* @__PURE__ */ A(() => W(r).versions.filter((e) => e.task === W(i))), l = /* @__PURE__ */ A(() => W(c).find((e) => e.name === W(a)) ?? W(c)[0]), u = /* @__PURE__ */ A(() => W(r).base.tasks[W(i)] ?? {}), d = {
		task_metric: ["task metric", (e) => e.task_metric],
		accuracy: ["accuracy", (e) => e.accuracy],
		top1_agreement: ["top-1 agreement with the base", () => 1],
		kl: ["KL(base ‖ version)", () => 0]
	}, f = /* @__PURE__ */ A(() => [{
		name: `${W(r).base.name} (base)`,
		x: W(r).base.size_bytes,
		y: d[W(o)][1](W(u)),
		base: !0
	}, ...W(c).map((e) => ({
		name: e.name,
		x: e.size_bytes,
		y: e[W(o)]
	}))]), p = /* @__PURE__ */ A(() => W(c).map((e) => ({
		key: e.name,
		name: e.name,
		label: e.name,
		layers: e.layer_similarity,
		first_diverging_layer: e.first_diverging_layer
	}))), h = /* @__PURE__ */ A(() => t.view.flips.filter((e) => e.version === W(l)?.name && e.task === W(i))), g = /* @__PURE__ */ A(() => t.view.circuits?.[W(i)] ?? {});
	var _ = os(), v = R(_), y = R(v), b = B(R(y), 2), x = z(b, !0), S = z(B(b, 2));
	k(y);
	var C = B(y, 2), w = B(R(C));
	k(C);
	var ee = B(C, 2), T = B(R(ee), 2);
	Z(T, 21, () => W(r).tasks, Wi, (e, t) => {
		var n = qo(), r = z(n, !0), i = {};
		V(() => {
			Y(r, W(t)), i !== (i = W(t)) && (n.value = (n.__value = i) ?? "");
		}), q(e, n);
	}), k(T), da(T), k(ee);
	var te = B(ee, 2), ne = R(te), re = z(ne), ie = B(ne);
	k(te), k(v);
	var ae = B(v, 2), oe = R(ae), se = R(oe), ce = R(se), le = B(ce);
	Z(le, 21, () => Object.entries(d), Wi, (e, t) => {
		var n = /* @__PURE__ */ A(() => m(W(t), 2)), r = /* @__PURE__ */ A(() => m(W(n)[1], 1));
		let i = () => W(n)[0], a = () => W(r)[0];
		var o = qo(), s = z(o, !0), c = {};
		V(() => {
			Y(s, a()), c !== (c = i()) && (o.value = (o.__value = c) ?? "");
		}), q(e, o);
	}), k(le), da(le), k(se);
	var ue = B(se, 2);
	{
		let e = /* @__PURE__ */ A(() => W(l)?.name);
		Ko(ue, {
			get points() {
				return W(f);
			},
			xLabel: "size (stored format)",
			get yLabel() {
				return d[W(o)][0];
			},
			get selected() {
				return W(e);
			},
			onselect: (e) => L(a, e, !0)
		});
	}
	k(oe);
	var de = B(oe, 2), fe = R(de), pe = B(R(fe)), me = R(pe);
	me.value = me.__value = "relative_error";
	var he = B(me);
	he.value = he.__value = "cka", k(pe), da(pe), k(fe);
	var ge = B(fe, 2);
	{
		let e = /* @__PURE__ */ A(() => W(l)?.name);
		Bo(ge, {
			get rows() {
				return W(p);
			},
			get metric() {
				return W(s);
			},
			get selected() {
				return W(e);
			},
			onselect: (e) => L(a, e, !0)
		});
	}
	Ee(2), k(de), k(ae);
	var _e = B(ae, 2), ve = B(R(_e));
	Z(ve, 21, () => W(c), (e) => e.name, (e, t) => {
		var n = Jo();
		let r;
		var i = R(n), o = z(i, !0), s = B(i), c = z(s, !0), u = B(s), d = z(u), f = B(u), p = z(f, !0), m = B(f), h = z(m, !0), g = B(m), _ = z(g, !0), v = B(g), y = z(v, !0), b = B(v), x = z(b), S = B(b), C = z(S, !0), w = B(S), ee = z(w, !0), T = B(w), te = z(T, !0), ne = z(B(T), !0);
		k(n), V((e, i, a, s, u, m, g, v, b) => {
			Q(n, "data-version", W(t).name), r = aa(n, 1, "svelte-u0egal", null, r, { selected: W(t).name === W(l)?.name }), Y(o, W(t).name), Y(c, W(t).label), Y(d, `${e ?? ""} (${i ?? ""}×)`), Q(f, "data-testid", `metric-${W(t).name ?? ""}`), Y(p, a), Y(h, s), Y(_, u), Y(y, m), Y(x, `${W(t).flips_to_wrong ?? ""}/${W(t).flips_to_right ?? ""}`), Y(C, W(t).first_diverging_layer ?? "none"), Y(ee, g), Y(te, v), Y(ne, b);
		}, [
			() => Ba(W(t).size_bytes),
			() => $(W(t).size_ratio, 2),
			() => $(W(t).task_metric),
			() => $(W(t).accuracy),
			() => $(W(t).top1_agreement),
			() => $(W(t).kl, 4),
			() => $(W(t).circuit_faithfulness_of_base),
			() => $(W(t).circuit_faithfulness_own),
			() => $(W(t).circuit_jaccard)
		]), Wr("click", n, () => L(a, W(t).name, !0)), q(e, n);
	}), k(ve), k(_e);
	var E = B(_e, 2), ye = (e) => {
		var t = as(), r = R(t), i = R(r), a = B(R(i)), o = z(a, !0), s = z(B(a, 2));
		k(i);
		var c = B(i, 2), d = (e) => {
			var t = Xo(), n = B(R(t));
			Z(n, 21, () => W(h), (e) => e.example, (e, t) => {
				var n = Yo(), r = R(n), i = z(r, !0), a = B(r), o = z(a, !0), s = B(a), c = z(s), l = B(s);
				let u;
				var d = z(l), f = z(B(l), !0);
				k(n), V((e, n, r) => {
					Y(i, W(t).example), Y(o, W(t).prompt ?? "(prompt not available)"), Y(c, `${e ?? ""} → ${n ?? ""}`), u = aa(l, 1, "svelte-u0egal", null, u, { bad: !W(t).correct }), Y(d, `${W(t).base_correct ? "right" : "wrong"} → ${W(t).correct ? "right" : "wrong"}`), Y(f, r);
				}, [
					() => $(W(t).base_metric, 2),
					() => $(W(t).metric, 2),
					() => $(W(t).kl, 3)
				]), q(e, n);
			}), k(n), k(t), q(e, t);
		}, f = (e) => {
			var t = Qo();
			Z(B(R(t)), 17, () => W(l).top_flips.slice(0, 3), Wi, (e, t) => {
				var n = Zo(), r = B(Mn(n));
				V((e, n) => Y(r, `“${W(t).prompt ?? ""}” ${e ?? ""} → ${n ?? ""}`), [() => $(W(t).base_metric, 2), () => $(W(t).metric, 2)]), q(e, n);
			}), k(t), q(e, t);
		};
		X(c, (e) => {
			W(h).length ? e(d) : e(f, -1);
		}), k(r);
		var p = B(r, 2), m = B(R(p), 2), _ = (e) => {
			q(e, $o());
		}, v = (e) => {
			var t = is(), r = Mn(t), i = R(r), a = B(i), o = z(a, !0), s = B(a), c = z(B(s), !0);
			Ee(), k(r);
			var d = B(r, 2), f = (e) => {
				var t = es(), n = Mn(t), r = z(n), i = B(n, 2), a = R(i), o = z(B(a), !0);
				Ee(), k(i);
				var s = z(B(i, 2));
				V((e, t, n, i) => {
					sa(r, `width: ${100 * W(l).circuit_jaccard}%`), Y(a, `${W(l).name ?? ""}'s own circuit: faithfulness ${e ?? ""}, Jaccard index with the
              base's `), Y(o, t), Y(s, `Heads entered: ${n ?? ""}. Heads left: ${i ?? ""}.`);
				}, [
					() => $(W(l).circuit_faithfulness_own),
					() => $(W(l).circuit_jaccard),
					() => W(l).heads_entered?.join(", ") || "none",
					() => W(l).heads_left?.join(", ") || "none"
				]), q(e, t);
			};
			X(d, (e) => {
				W(l).circuit_jaccard !== null && e(f);
			});
			var p = B(d, 2), m = (e) => {
				var t = ts(), n = z(t, !0);
				V(() => Y(n, W(l).circuit_note)), q(e, t);
			};
			X(p, (e) => {
				W(l).circuit_note && e(m);
			});
			var h = B(p, 2), _ = (e) => {
				var t = rs(), r = R(t), i = B(r, 2), a = (e) => {
					var t = ns(), r = B(Mn(t)), i = z(r);
					V((e) => {
						Q(r, "href", e), Y(i, `compare it with ${W(l).name ?? ""}'s`);
					}, [() => n()(`circuit/${W(g).base}?vs=${W(g)[W(l).name]}`)]), q(e, t);
				};
				X(i, (e) => {
					W(g)[W(l).name] && e(a);
				}), k(t), V((e) => Q(r, "href", e), [() => n()(`circuit/${W(g).base}`)]), q(e, t);
			};
			X(h, (e) => {
				n() && W(g).base && e(_);
			}), V((e, t, n) => {
				Y(i, `The base's circuit (${e ?? ""} edges) has faithfulness `), Y(o, t), Y(s, ` on ${W(l).name ?? ""} (`), Y(c, n);
			}, [
				() => La(W(u).circuit_edges),
				() => $(W(l).circuit_faithfulness_of_base),
				() => $(W(u).circuit_faithfulness)
			]), q(e, t);
		};
		X(m, (e) => {
			W(l).circuit_jaccard === null && W(l).circuit_faithfulness_of_base === null ? e(_) : e(v, -1);
		}), k(p), k(t), V(() => {
			Y(o, W(l).name), Y(s, `(${W(h).length ?? ""} of ${W(u).n ?? "?" ?? ""})`);
		}), q(e, t);
	};
	X(E, (e) => {
		W(l) && e(ye);
	}), k(_), V((e, t, n, i) => {
		Y(x, W(r).base.name), Y(S, `(${W(r).base.fingerprint ?? ""}, ${e ?? ""})`), Y(w, ` ${t ?? ""}`), Y(re, `base ${W(u).metric ?? "metric" ?? ""}`), Y(ie, ` ${n ?? ""}, accuracy ${i ?? ""}`), Y(ce, `${d[W(o)][0] ?? ""} against size `);
	}, [
		() => Ba(W(r).base.size_bytes),
		() => [...new Set(W(r).versions.map((e) => e.name))].join(", "),
		() => $(W(u).task_metric),
		() => $(W(u).accuracy)
	]), fa(T, () => W(i), (e) => L(i, e)), fa(le, () => W(o), (e) => L(o, e)), fa(pe, () => W(s), (e) => L(s, e)), q(e, _), Ke();
}
Gr(["click"]);
// src/components/SweepPlot.svelte
var ls = /* @__PURE__ */ G("<p class=\"muted svelte-evvkxj\">This steering file has no strength sweep yet: run <code>mechscope steer eval FILE --record</code> (or a steering fit job with a sweep).</p>"), us = /* @__PURE__ */ K("<line class=\"grid svelte-evvkxj\"></line><text class=\"tick svelte-evvkxj\" text-anchor=\"end\"> </text>", 1), ds = /* @__PURE__ */ K("<text class=\"tick svelte-evvkxj\" text-anchor=\"middle\"> </text>"), fs = /* @__PURE__ */ K("<line class=\"budget svelte-evvkxj\"></line><text class=\"tick svelte-evvkxj\"> </text>", 1), ps = /* @__PURE__ */ K("<g><circle class=\"svelte-evvkxj\"></circle><text class=\"tick svelte-evvkxj\"> </text><title> </title></g>"), ms = /* @__PURE__ */ G("<svg width=\"100%\" data-testid=\"sweep-plot\" role=\"img\" aria-label=\"effect against damage\" class=\"svelte-evvkxj\"><!><!><!><path class=\"line svelte-evvkxj\"></path><!><text class=\"label svelte-evvkxj\" text-anchor=\"middle\">damage: neutral perplexity rise</text><text x=\"12\" class=\"label svelte-evvkxj\" text-anchor=\"middle\"> </text></svg> <div class=\"legend svelte-evvkxj\"> <!></div>", 1), hs = {
	hash: "svelte-evvkxj",
	code: "svg.svelte-evvkxj {font:10px system-ui, sans-serif;}.grid.svelte-evvkxj {stroke:#eee;}.tick.svelte-evvkxj {fill:#555;}.label.svelte-evvkxj {fill:#444;font-size:11px;}.budget.svelte-evvkxj {stroke:#d62728;stroke-dasharray:4 3;}.line.svelte-evvkxj {fill:none;stroke:#9ab;stroke-width:1.5;}.pt.svelte-evvkxj circle:where(.svelte-evvkxj) {fill:#fff;stroke:#1f5fbf;stroke-width:2;}.pt.chosen.svelte-evvkxj circle:where(.svelte-evvkxj) {stroke:#2ca02c;stroke-width:3;}.pt.current.svelte-evvkxj circle:where(.svelte-evvkxj) {fill:#e6550d;stroke:#e6550d;}.muted.svelte-evvkxj {color:#666;}.legend.svelte-evvkxj {font:11px system-ui, sans-serif;color:#555;max-width:440px;}"
};
function gs(e, t) {
	Ge(t, !0), $i(e, hs);
	let n = Pa(t, "current", 3, null), r = /* @__PURE__ */ A(() => (t.evaluation?.sweep ?? []).filter((e) => e.delta_ppl !== null && e.delta_ppl !== void 0)), i = /* @__PURE__ */ A(() => W(r).filter((e) => e.effect !== null && e.effect !== void 0)), a = /* @__PURE__ */ A(() => Ua([
		...W(r).map((e) => e.delta_ppl),
		0,
		t.evaluation?.max_ppl_rise ?? 0
	], .08)), o = /* @__PURE__ */ A(() => m(W(a), 2)), s = /* @__PURE__ */ A(() => W(o)[0]), c = /* @__PURE__ */ A(() => W(o)[1]), l = /* @__PURE__ */ A(() => Ua([...W(i).map((e) => e.effect), 0], .1)), u = /* @__PURE__ */ A(() => m(W(l), 2)), d = /* @__PURE__ */ A(() => W(u)[0]), f = /* @__PURE__ */ A(() => W(u)[1]), p = /* @__PURE__ */ A(() => Ha(W(s), W(c), 50, 424)), h = /* @__PURE__ */ A(() => Ha(W(d), W(f), 202, 14)), g = /* @__PURE__ */ A(() => Va(W(d), W(f), 5)), _ = /* @__PURE__ */ A(() => Wa(W(g))), v = /* @__PURE__ */ A(() => W(i).map((e, t) => `${t ? "L" : "M"}${W(p)(e.delta_ppl)},${W(h)(e.effect)}`).join(" ")), y = /* @__PURE__ */ A(() => t.evaluation?.chosen_strength);
	var b = ti(), x = Mn(b), S = (e) => {
		q(e, ls());
	}, C = (e) => {
		var r = ms(), a = Mn(r);
		Q(a, "viewBox", "0 0 440 240"), sa(a, "max-width: 440px");
		var o = R(a);
		Z(o, 17, () => W(g), Wi, (e, t) => {
			var n = us(), r = Mn(n);
			Q(r, "x1", 50), Q(r, "x2", 424);
			var i = B(r);
			Q(i, "x", 44);
			var a = z(i, !0);
			V((e, t, n, o) => {
				Q(r, "y1", e), Q(r, "y2", t), Q(i, "y", n), Y(a, o);
			}, [
				() => W(h)(W(t)),
				() => W(h)(W(t)),
				() => W(h)(W(t)) + 4,
				() => W(_)(W(t))
			]), q(e, n);
		});
		var l = B(o);
		Z(l, 17, () => Va(W(s), W(c), 5), Wi, (e, t) => {
			var n = ds();
			Q(n, "y", 217);
			var r = z(n, !0);
			V((e, t) => {
				Q(n, "x", e), Y(r, t);
			}, [() => W(p)(W(t)), () => za(W(t), 0)]), q(e, n);
		});
		var u = B(l), d = (e) => {
			var n = fs(), r = Mn(n);
			Q(r, "y1", 14), Q(r, "y2", 202);
			var i = B(r);
			Q(i, "y", 24);
			var a = z(i);
			V((e, t, n, o) => {
				Q(r, "x1", e), Q(r, "x2", t), Q(i, "x", n), Y(a, `budget ${o ?? ""}`);
			}, [
				() => W(p)(t.evaluation.max_ppl_rise),
				() => W(p)(t.evaluation.max_ppl_rise),
				() => W(p)(t.evaluation.max_ppl_rise) + 4,
				() => za(t.evaluation.max_ppl_rise, 0)
			]), q(e, n);
		};
		X(u, (e) => {
			t.evaluation.max_ppl_rise !== void 0 && e(d);
		});
		var f = B(u), m = B(f);
		Z(m, 17, () => W(i), (e) => e.strength, (e, t) => {
			var r = ps();
			let i;
			var a = R(r), o = B(a), s = z(o, !0), c = z(B(o));
			k(r), V((e, l, u, d, f, p) => {
				Q(r, "data-strength", W(t).strength), i = aa(r, 0, "pt svelte-evvkxj", null, i, {
					chosen: W(t).strength === W(y),
					current: W(t).strength === n()
				}), Q(a, "cx", e), Q(a, "cy", l), Q(a, "r", W(t).strength === W(y) ? 7 : 4), Q(o, "x", u), Q(o, "y", d), Y(s, W(t).strength), Y(c, `strength ${W(t).strength ?? ""}: effect ${f ?? ""}, perplexity ${p ?? ""}`);
			}, [
				() => W(p)(W(t).delta_ppl),
				() => W(h)(W(t).effect),
				() => W(p)(W(t).delta_ppl) + 8,
				() => W(h)(W(t).effect) - 6,
				() => $(W(t).effect),
				() => za(W(t).delta_ppl)
			]), q(e, r);
		});
		var b = B(m);
		Q(b, "x", 237), Q(b, "y", 236);
		var x = B(b);
		Q(x, "y", 108), Q(x, "transform", "rotate(-90 12 108)");
		var S = z(x);
		k(a);
		var C = B(a, 2), w = R(C), ee = B(w), T = (e) => {
			var t = ei();
			V((e) => Y(t, `; filled orange: the playground's strength${e ?? ""}`), [() => W(i).some((e) => e.strength === n()) ? "" : ` (${n()} was not measured in this sweep)`]), q(e, t);
		};
		X(ee, (e) => {
			n() !== null && e(T);
		}), k(C), V(() => {
			Q(f, "d", W(v)), Y(S, `effect (${t.evaluation.scorer ?? ""})`), Y(w, `ringed green: the chosen strength${W(y) === null ? " (none is within the budget)" : ""} `);
		}), q(e, r);
	};
	X(x, (e) => {
		W(r).length ? e(C, -1) : e(S);
	}), q(e, b), Ke();
}
// src/components/SteeringSummary.svelte
var _s = /* @__PURE__ */ G("<div><span class=\"k svelte-z1kcnl\">chosen strength</span> <b data-testid=\"chosen-strength\"> </b> <span class=\"muted svelte-z1kcnl\"> </span></div>"), vs = /* @__PURE__ */ G("<tr><td class=\"svelte-z1kcnl\"> </td><td class=\"svelte-z1kcnl\"> </td><td class=\"svelte-z1kcnl\"> </td><td class=\"svelte-z1kcnl\"> </td><td class=\"svelte-z1kcnl\"> </td><td class=\"ex svelte-z1kcnl\"> </td></tr>"), ys = /* @__PURE__ */ G("<div><h3 class=\"svelte-z1kcnl\">Sweep</h3> <table data-testid=\"sweep-table\" class=\"svelte-z1kcnl\"><thead><tr><th class=\"svelte-z1kcnl\">strength</th><th class=\"svelte-z1kcnl\">effect</th><th class=\"svelte-z1kcnl\">Δppl</th><th class=\"svelte-z1kcnl\">KL</th><th class=\"svelte-z1kcnl\">top-1</th><th class=\"svelte-z1kcnl\">example</th></tr></thead><tbody></tbody></table></div>"), bs = /* @__PURE__ */ G("<div class=\"facts svelte-z1kcnl\" data-testid=\"steering-facts\"><div><span class=\"k svelte-z1kcnl\">method</span> <b> </b></div> <div><span class=\"k svelte-z1kcnl\">model</span> <span class=\"muted svelte-z1kcnl\"> </span></div> <div><span class=\"k svelte-z1kcnl\">concept</span> </div> <div><span class=\"k svelte-z1kcnl\">sites</span> </div> <div><span class=\"k svelte-z1kcnl\">data</span> </div> <div><span class=\"k svelte-z1kcnl\">default strength</span> <b data-testid=\"default-strength\"> </b></div> <!></div> <div class=\"row svelte-z1kcnl\"><div class=\"plot svelte-z1kcnl\"><h3 class=\"svelte-z1kcnl\">Effect against damage</h3> <!></div> <!></div>", 1), xs = {
	hash: "svelte-z1kcnl",
	code: ".facts.svelte-z1kcnl {display:flex;flex-wrap:wrap;gap:4px 22px;font:13px system-ui, sans-serif;}.k.svelte-z1kcnl {color:#666;margin-right:3px;}.muted.svelte-z1kcnl {color:#666;}.row.svelte-z1kcnl {display:flex;flex-wrap:wrap;gap:24px;font:13px system-ui, sans-serif;}h3.svelte-z1kcnl {font-size:13px;margin:12px 0 4px;}.plot.svelte-z1kcnl {flex:0 1 440px;min-width:300px;}table.svelte-z1kcnl {border-collapse:collapse;font-size:12px;}th.svelte-z1kcnl, td.svelte-z1kcnl {padding:3px 7px;border-bottom:1px solid #e4e4e4;text-align:left;}th.svelte-z1kcnl {background:#f4f5f7;}tr.chosen.svelte-z1kcnl td:where(.svelte-z1kcnl) {background:#e8f5e9;font-weight:600;}.ex.svelte-z1kcnl {max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#555;}"
};
function Ss(e, t) {
	Ge(t, !0), $i(e, xs);
	let n = Pa(t, "current", 3, null), r = /* @__PURE__ */ A(() => t.view.manifest), i = /* @__PURE__ */ A(() => t.view.evaluation);
	var a = bs(), o = Mn(a), s = R(o), c = z(B(R(s), 2), !0);
	k(s);
	var l = B(s, 2), u = B(R(l)), d = z(B(u));
	k(l);
	var f = B(l, 2), p = B(R(f));
	k(f);
	var m = B(f, 2), h = B(R(m));
	k(m);
	var g = B(m, 2), _ = B(R(g));
	k(g);
	var v = B(g, 2), y = z(B(R(v), 2), !0);
	k(v);
	var b = B(v, 2), x = (e) => {
		var t = _s(), n = B(R(t), 2), r = z(n, !0), a = z(B(n, 2));
		k(t), V((e, t, n) => {
			Y(r, e), Y(a, `(budget ${t ?? ""} perplexity, base perplexity ${n ?? ""})`);
		}, [
			() => W(i).chosen_strength === null ? "none within the budget" : Ga(W(i).chosen_strength),
			() => za(W(i).max_ppl_rise, 0),
			() => $(W(i).base_ppl, 1)
		]), q(e, t);
	};
	X(b, (e) => {
		W(i) && e(x);
	}), k(o);
	var S = B(o, 2), C = R(S);
	gs(B(R(C), 2), {
		get evaluation() {
			return W(i);
		},
		get current() {
			return n();
		}
	}), k(C);
	var w = B(C, 2), ee = (e) => {
		var t = ys(), n = B(R(t), 2), r = B(R(n));
		Z(r, 21, () => W(i).sweep, (e) => e.strength, (e, t) => {
			var n = vs();
			let r;
			var a = R(n), o = z(a, !0), s = B(a), c = z(s, !0), l = B(s), u = z(l, !0), d = B(l), f = z(d, !0), p = B(d), m = z(p, !0), h = z(B(p), !0);
			k(n), V((e, a, s, l, d) => {
				Q(n, "data-strength", W(t).strength), r = aa(n, 1, "svelte-z1kcnl", null, r, { chosen: W(t).strength === W(i).chosen_strength }), Y(o, e), Y(c, a), Y(u, s), Y(f, l), Y(m, d), Y(h, (W(t).examples ?? [])[0] ?? "");
			}, [
				() => Ga(W(t).strength),
				() => $(W(t).effect),
				() => za(W(t).delta_ppl),
				() => $(W(t).kl),
				() => $(W(t).top1_agreement, 2)
			]), q(e, n);
		}), k(r), k(n), k(t), q(e, t);
	};
	X(w, (e) => {
		W(i)?.sweep?.length && e(ee);
	}), k(S), V((e, t) => {
		Y(c, W(r).method), Y(u, ` ${W(r).model.spec ?? ""} `), Y(d, `(${W(r).model.fingerprint ?? ""})`), Y(p, ` ${W(r).concept ?? "–" ?? ""}`), Y(h, ` ${e ?? ""}`), Y(_, ` ${W(r).data.n_source ?? ""} source, ${W(r).data.n_target ?? ""} target sentences`), Y(y, t);
	}, [() => W(r).sites.length <= 3 ? W(r).sites.join(", ") : `${W(r).sites.length}: ${W(r).sites[0]} … ${W(r).sites[W(r).sites.length - 1]}`, () => Ga(W(r).default_strength)]), q(e, a), Ke();
}
// src/components/ErrorBox.svelte
var Cs = /* @__PURE__ */ G("<div class=\"error svelte-14z5hh\" role=\"alert\" data-testid=\"error\"><strong> </strong> <div class=\"msg svelte-14z5hh\"> </div></div>"), ws = {
	hash: "svelte-14z5hh",
	code: ".error.svelte-14z5hh {background:#fdecea;border:1px solid #e0a39c;color:#611a15;padding:10px 14px;border-radius:6px;margin:10px 0;font:13px system-ui, sans-serif;}.msg.svelte-14z5hh {margin-top:4px;font-family:ui-monospace, monospace;white-space:pre-wrap;}"
};
function Ts(e, t) {
	$i(e, ws);
	let n = Pa(t, "title", 3, "Something went wrong");
	var r = Cs(), i = R(r), a = z(i, !0), o = z(B(i, 2), !0);
	k(r), V(() => {
		Y(a, n()), Y(o, t.message);
	}), q(e, r);
}
// src/widget.js
var Es = {
	circuit: No,
	comparison: cs,
	steering: Ss
};
function Ds({ model: e, el: t }) {
	let n = null, r = document.createElement("div");
	r.className = "mechscope-widget", r.style.cssText = "font: 13px system-ui, sans-serif; color: #222; background: #fff; padding: 4px;", t.appendChild(r);
	function i() {
		n && Fi(n);
		let t = e.get("kind"), i = e.get("data"), a = Es[t];
		n = a ? ji(a, {
			target: r,
			props: {
				view: i,
				diff: e.get("diff") || null
			}
		}) : ji(Ts, {
			target: r,
			props: {
				title: "mechscope widget",
				message: `cannot show a ${t}`
			}
		}), e.set("rendered", `${t}:${Date.now()}`), e.save_changes();
	}
	return i(), e.on("change:data", i), e.on("change:diff", i), () => {
		e.off("change:data", i), e.off("change:diff", i), n && Fi(n);
	};
}
var Os = { render: Ds };
export { Os as default };
