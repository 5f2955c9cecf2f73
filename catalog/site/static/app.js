/* regionlab catalogue site: renders window.RL_DATA by hash route; search with MiniSearch.
 * Works from file:// and from any web server, with no external resources. The only fetches
 * are the feasibility form's, to the access service on the same origin (when the site is
 * served by `regionlab serve` at /site/): the service counts, suppresses and audits; the page
 * only shows the displayed values it gets back. */
(function () {
  "use strict";

  const DATA = window.RL_DATA;
  const PHASES = ["idé", "afprøvning", "implementering", "drift"];
  const KAHN = [
    ["conformance", "Konformitet", "Overholder værdierne format, kodelister og regler?"],
    ["completeness", "Fuldstændighed", "Er data til stede, hvor de skal være?"],
    ["plausibility", "Troværdighed", "Er værdierne sandsynlige (tid, sammenhæng)?"],
  ];
  const CLASS_LABEL = {
    direct_identifier: "Direkte identifikator",
    pseudonym: "Pseudonym",
    quasi_identifier: "Kvasi-identifikator",
    sensitive: "Følsom",
    none: "Ingen",
  };
  const ACCESS = {
    public: ["Offentlig", "Kan bruges af alle."],
    restricted: ["Begrænset", "Kræver aftale med dataejeren."],
    non_public: ["Ikke-offentlig", "Kun for godkendte projekter i et arbejdsområde."],
  };
  const STATUS_LABEL = { ok: "OK", advarsel: "Advarsel", fejl: "Fejl", ukendt: "Ikke kørt" };
  const RESULT_LABEL = { SUCCESS: "bestået", FAILURE: "fejlet", ERROR: "fejl i kørsel" };
  // A failing warning rule did not block anything: it reads as a warning, not as a failure.
  const resultLabel = (c) =>
    c.result === "FAILURE" && c.severity !== "blocking" ? "advarsel" : RESULT_LABEL[c.result] || c.result;
  const CODE_LABEL = {
    sks_diagnoses: "SKS-diagnoser", sks_procedures: "SKS-procedurer", npu: "NPU", atc: "ATC",
    municipalities: "Kommunekoder",
  };

  const byRef = new Map(DATA.products.map((p) => [p.ref, p]));
  const byUrn = new Map(DATA.products.map((p) => [p.urn, p]));
  const domains = new Map(DATA.domains.map((d) => [d.id, d]));
  const terms = new Map();
  DATA.glossary.forEach((n) => n.terms.forEach((t) => terms.set(t.id, t)));
  const initiativesByUrn = new Map(DATA.initiatives.map((i) => [i.urn, i]));

  /* ---------- helpers ---------- */
  const esc = (v) =>
    String(v == null ? "" : v).replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const fmtInt = (n) => (n == null || n === "" ? "–" : Number(n).toLocaleString("da-DK"));
  const fmtDate = (iso) => {
    if (!iso) return "–";
    const d = new Date(iso.length <= 10 ? iso + "T00:00:00Z" : iso);
    if (isNaN(d)) return esc(iso);
    return d.toLocaleDateString("da-DK", { year: "numeric", month: "short", day: "numeric" });
  };
  const fmtDateTime = (iso) => {
    if (!iso) return "–";
    const d = new Date(iso);
    return isNaN(d) ? esc(iso) : d.toLocaleString("da-DK", { dateStyle: "medium", timeStyle: "short" });
  };
  const daysSince = (iso) => {
    if (!iso) return null;
    const d = new Date(iso.length <= 10 ? iso + "T00:00:00Z" : iso);
    return Math.floor((Date.parse(DATA.generated_at) - d.getTime()) / 86400000);
  };
  const chip = (text, cls) => `<span class="chip ${esc(cls || "")}">${esc(text)}</span>`;
  const statusChip = (s) => chip(STATUS_LABEL[s] || s, s);
  // A draft is built and audited but not offered to researchers (permits refuse it).
  const PRODUCT_STATUS = { active: "aktiv", draft: "kladde – tilbydes ikke til forskere", deprecated: "udfaset" };
  const productLink = (ref) => {
    const p = byRef.get(ref);
    return `<a href="#/produkt/${esc(ref)}">${esc(p ? p.title : ref)}</a>`;
  };
  const termLink = (id) => {
    const t = terms.get(id);
    return `<a href="#/begreber/${esc(id)}">${esc(t ? t.name : id)}</a>`;
  };
  const owner = (o) =>
    `<li><strong>${esc(o.name)}</strong> <span class="muted small">${esc(o.role_label)}</span><br>` +
    (o.email ? `<a href="mailto:${esc(o.email)}">${esc(o.email)}</a>` : `<span class="muted">${esc(o.id)}</span>`) +
    `</li>`;
  /* Retention and erasure, from the product's regionlab.* properties (counts and times only). */
  const erasureFact = (props) => {
    const k = (name) => props["regionlab." + name];
    if (k("erasure_requests_applied") == null && k("retention_last_run") == null) return "";
    const retention = k("retention_last_run")
      ? `Opbevaringsperioden senest håndhævet <span data-k="retention-last-run">${fmtDateTime(k("retention_last_run"))}</span>` +
        (k("retention_as_of") ? ` <span class="small muted">(skæringsdato ${fmtDate(k("retention_as_of"))})</span>` : "") +
        `<div class="small muted"><span data-k="retention-rows">${fmtInt(k("retention_rows_removed_last_run"))}</span> rækker fjernet fra produktet ved seneste kørsel</div>`
      : '<span data-k="retention-last-run">Opbevaringsperioden er endnu ikke håndhævet.</span>';
    const applied = k("erasure_requests_applied") || "0";
    const erasures =
      `<span data-k="erasures-applied">${fmtInt(applied)}</span> sletning${applied === "1" ? "" : "er"} af personer gennemført på platformen; ` +
      `<span data-k="erasures-touching">${fmtInt(k("erasure_requests_touching") || "0")}</span> fjernede rækker i dette produkt` +
      (k("erasure_last_applied") ? ` · senest ${fmtDateTime(k("erasure_last_applied"))}` : "");
    return `<div class="fact" id="erasure"><dt>Sletning og opbevaring</dt><dd>${retention}<div class="small">${erasures}</div></dd></div>`;
  };
  const freshness = (p) => p.properties.freshness || (p.properties.published_at || "").slice(0, 10) || null;
  /* A streaming product's newest data is a time: shown in minutes when it is recent. */
  const fmtFresh = (iso) => {
    if (!iso || iso.length <= 10) return fmtDate(iso);
    const minutes = Math.round((Date.now() - new Date(iso).getTime()) / 60000);
    if (isNaN(minutes) || minutes < 0 || minutes > 24 * 60) return fmtDateTime(iso);
    return minutes < 1 ? "under 1 min siden" : `${minutes} min siden`;
  };
  const streamFact = (props) => {
    if (!props.stream_topic) return "";
    const goal = Number(props.freshness_objective_s);
    const lag = props.lag_p95_s != null ? Number(props.lag_p95_s) : null;
    const badge = lag == null ? chip("ingen hændelser endnu", "ukendt")
      : chip(`p95 ${lag.toLocaleString("da-DK")} s`, lag <= goal ? "ok" : "advarsel");
    return `<div class="fact" id="stream"><dt>Løbende data</dt><dd>${badge} <span class="small muted">mål: ${esc(props.freshness_percentile)} % inden for ${esc(props.freshness_objective_s)} s fra hændelse til forespørgbar</span>
      <div class="small muted">FHIR ${esc(props.stream_resource_types || "")} fra emnet <span class="mono">${esc(props.stream_topic)}</span>, publiceret i mikro-batches</div></dd></div>`;
  };

  /* ---------- pages ---------- */
  function overview() {
    const counts = { ok: 0, advarsel: 0, fejl: 0, ukendt: 0 };
    DATA.products.forEach((p) => (counts[p.quality_status] = (counts[p.quality_status] || 0) + 1));
    const newest = DATA.products.map(freshness).filter(Boolean).sort().pop();
    const recent = DATA.runs.slice(0, 12);
    const failing = DATA.products
      .flatMap((p) => p.checks.filter((c) => c.result && c.result !== "SUCCESS").map((c) => [p, c]))
      .slice(0, 10);
    return `
      <h1>Regionens datakatalog</h1>
      <p class="lead">Dataprodukter med ejere, formål, hjemmel, skema, kvalitet og afstamning — som
      kataloget (DataHub) har registreret dem. Søg øverst, eller gå via et domæne.</p>
      <div class="grid stats">
        <div class="panel stat"><div class="num">${DATA.domains.length}</div><div class="label">domæner</div></div>
        <div class="panel stat"><div class="num">${DATA.products.length}</div><div class="label">dataprodukter</div></div>
        <div class="panel stat"><div class="num">${counts.ok}</div><div class="label">${statusChip("ok")} kvalitet i orden</div></div>
        <div class="panel stat"><div class="num">${counts.advarsel + counts.fejl}</div><div class="label">${statusChip("advarsel")} ${statusChip("fejl")} med afvigelser</div></div>
        <div class="panel stat"><div class="num">${fmtFresh(newest)}</div><div class="label">nyeste data</div></div>
      </div>
      <h2>Domæner</h2>
      <div class="grid cards">${DATA.domains.map(domainCard).join("")}</div>
      <div class="grid two">
        <section>
          <h2>Seneste ændringer</h2>
          <div class="panel"><ul class="plain">${
            recent.map((r) => `<li>${productLink(r.product)} <span class="muted small">publiceret ${fmtDateTime(r.at)}</span>
              ${r.result === "SUCCESS" ? chip("gennemført", "ok") : r.result ? chip("fejlet", "fejl") : chip("kører", "")}</li>`).join("") ||
            '<li class="muted">Ingen kørsler registreret endnu.</li>'
          }</ul></div>
        </section>
        <section>
          <h2>Afvigende kvalitetsregler</h2>
          <div class="panel"><ul class="plain">${
            failing.map(([p, c]) => `<li>${productLink(p.ref)}<br><span class="small">${esc(c.description || c.check)}</span>
              ${chip(resultLabel(c), c.severity === "blocking" ? "fejl" : "advarsel")}</li>`).join("") ||
            '<li class="muted">Alle regler bestået ved seneste kørsel.</li>'
          }</ul></div>
        </section>
      </div>`;
  }

  function domainCard(d) {
    const products = d.products.map((r) => byRef.get(r)).filter(Boolean);
    const worst = ["fejl", "advarsel", "ok", "ukendt"].find((s) => products.some((p) => p.quality_status === s));
    const fresh = products.map(freshness).filter(Boolean).sort().pop();
    return `<div class="panel card">
      <h3><a href="#/domaene/${esc(d.id)}">${esc(d.title)}</a></h3>
      <p class="small muted">${esc(d.description.slice(0, 170))}${d.description.length > 170 ? " …" : ""}</p>
      <div class="small">${products.length} produkt${products.length === 1 ? "" : "er"} ·
        ${worst ? statusChip(worst) : ""} · nyeste data ${fmtFresh(fresh)}</div>
    </div>`;
  }

  function domainsPage() {
    return `<h1>Domæner</h1><p class="lead">Hvert domæne har en dataansvarlig (steward), der beskriver og står inde for domænets dataprodukter.</p>
      <div class="grid cards">${DATA.domains.map(domainCard).join("")}</div>`;
  }

  function domainPage(id) {
    const d = domains.get(id);
    if (!d) return notFound(`Domænet “${id}” findes ikke i kataloget.`);
    const products = d.products.map((r) => byRef.get(r)).filter(Boolean);
    return `<div class="crumbs"><a href="#/domaener">Domæner</a> ›</div>
      <h1>${esc(d.title)}</h1><p class="lead">${esc(d.description)}</p>
      <div class="grid two">
        <section><h2>Dataprodukter</h2>
          <div class="panel table-wrap"><table>
            <thead><tr><th>Produkt</th><th>Kvalitet</th><th>Nyeste data</th><th>Rækker</th><th>Adgang</th></tr></thead>
            <tbody>${products.map((p) => `<tr>
              <td>${productLink(p.ref)}<div class="small muted mono">${esc(p.ref)}</div></td>
              <td>${statusChip(p.quality_status)}</td><td>${fmtFresh(freshness(p))}</td>
              <td>${fmtInt(p.properties.row_count)}</td><td>${esc((ACCESS[p.properties.access_level] || [p.properties.access_level])[0])}</td>
            </tr>`).join("")}</tbody></table></div>
        </section>
        <section><h2>Ejere og steward</h2><div class="panel"><ul class="plain">${d.owners.map(owner).join("")}</ul></div></section>
      </div>`;
  }

  function productPage(ref) {
    const p = byRef.get(ref);
    if (!p) return notFound(`Dataproduktet “${ref}” findes ikke i kataloget.`);
    const props = p.properties;
    const d = domains.get(p.domain);
    const access = ACCESS[props.access_level] || [props.access_level || "–", ""];
    const region = DATA.region;
    const linkable = props.key_id
      ? DATA.products.filter((o) => o.ref !== p.ref && o.properties.key_id === props.key_id)
      : [];
    const age = daysSince(freshness(p));
    const apply = props.access_level === "public"
      ? "<p>Produktet er offentligt og kan bruges uden ansøgning.</p>"
      : region
        ? `<p>${esc(region.how_to_apply)}</p><p><a href="${esc(region.application_names_product
              ? `${region.application_url}?product=${encodeURIComponent(p.ref)}`
              : region.application_url)}">Ansøg om adgang</a> ·
           <a href="mailto:${esc(region.access_email)}">${esc(region.access_email)}</a> ·
           tilladelser udstedes af <a href="${esc(region.hdab_url)}">${esc(region.hdab)}</a></p>`
        : "<p>Kontakt produktets dataansvarlige.</p>";
    return `<div class="crumbs"><a href="#/domaene/${esc(p.domain)}">${esc(d ? d.title : p.domain)}</a> ›</div>
      <h1>${esc(p.title)}</h1>
      <div class="small muted"><span class="mono">${esc(p.ref)}</span> · tabel <span class="mono">${esc(p.table)}</span> ·
        ${p.kind === "derived" ? "afledt produkt" : p.kind === "labelled" ? "annoteret produkt" : "kildeprodukt"} · ${esc(PRODUCT_STATUS[props.status] || props.status || "")}</div>
      <p class="lead" style="margin-top:.75rem">${esc(p.description)}</p>
      <div class="grid two">
        <section class="panel">
          <dl class="facts">
            <div class="fact"><dt>Formål</dt><dd>${esc(props.purpose || "–")}</dd></div>
            <div class="fact"><dt>Adgangsniveau</dt><dd>${chip(access[0], props.access_level === "public" ? "ok" : "advarsel")} <span class="small muted">${esc(access[1])}</span></dd></div>
            <div class="fact"><dt>Hjemmel</dt><dd>${esc(props.legal_basis || "–")}</dd></div>
            ${kAnonymityFact(props)}
            <div class="fact"><dt>Opbevaring</dt><dd>${esc(props.retention || "–")}<div class="small muted">${esc(props.retention_justification || "")}</div></dd></div>
            ${erasureFact(props)}
            ${streamFact(props)}
            <div class="fact"><dt>Friskhed</dt><dd>nyeste data ${fmtFresh(freshness(p))}${age != null && !props.stream_topic ? ` <span class="small muted">(${age} dage)</span>` : ""}<div class="small muted">snapshot ${esc(props.last_snapshot || "–")} · publiceret ${fmtDateTime(props.published_at)} · ${fmtInt(props.row_count)} rækker</div>${props.last_delivery_rejected ? `<div class="small">${chip("seneste levering afvist", "advarsel")} ${esc(props.last_delivery_rejected)}</div>` : ""}</dd></div>
            <div class="fact"><dt>Nøgle-id</dt><dd><span class="mono">${esc(props.key_id || "–")}</span>
              <div class="small muted">${linkable.length ? "Kan kobles med " + linkable.map((o) => productLink(o.ref)).join(", ") : props.key_id ? "Intet andet produkt har samme nøgle." : "Ingen personnøgle."}</div></dd></div>
            <div class="fact"><dt>Sundhedskategorier</dt><dd>${esc(props.health_categories || "–")}</dd></div>
            <div class="fact"><dt>Nøgleord</dt><dd>${p.keywords.map((k) => chip(k)).join("") || "–"}</dd></div>
          </dl>
        </section>
        <section class="panel" id="owners">
          <h3>Ejere og kontakt</h3><ul class="plain owners">${p.owners.map(owner).join("")}</ul>
          <h3 style="margin-top:1rem">Sådan får du adgang</h3>${apply}
        </section>
      </div>
      ${qualityLabel(props)}
      <h2>Skema</h2>${schemaTable(p)}
      <h2>Kvalitet</h2>${quality(p)}
      <h2>Afstamning (lineage)</h2>${lineage(p)}
      ${p.initiatives.length ? `<h2>Initiativer, der bruger produktet</h2><div class="panel"><ul class="plain">${
        p.initiatives.map((u) => initiativesByUrn.get(u)).filter(Boolean).map((i) =>
          `<li><a href="#/initiativer/${esc(i.id)}">${esc(i.name)}</a> ${chip(i.phase)} <span class="small muted">${esc(i.department)}</span></li>`).join("")
      }</ul></div>` : ""}
      ${p.terms.length ? `<h2>Begreber</h2><p>${p.terms.map(termLink).join(" · ")}</p>` : ""}
      <h2>Hvor mange personer?</h2>
      <section class="panel" id="feasibility" data-product="${esc(p.ref)}" aria-live="polite">
        <p class="muted small">Undersøger, om adgangstjenesten svarer …</p></section>`;
  }

  /* The EHDS data quality and utility label (art. 78), from the product's ehds_label.* properties. */
  const LABEL_ELEMENTS = [
    ["documentation", "Dokumentation"],
    ["technical_quality", "Teknisk kvalitet"],
    ["coverage", "Dækning"],
    ["availability", "Tid fra indsamling til adgang"],
    ["enrichment", "Berigelse (kobling, kodning, annotering)"],
  ];
  const LABEL_DIMENSIONS = [
    ["completeness", "fuldstændighed"], ["uniqueness", "unikhed"], ["validity", "validitet"],
    ["consistency", "konsistens"], ["timeliness", "aktualitet"],
  ];
  const LABEL_CLASS = { platinum: "ok", gold: "ok", silver: "advarsel", bronze: "advarsel", none: "fejl" };
  function qualityLabel(props) {
    const k = (name) => props["ehds_label." + name];
    if (k("level") == null) return "";
    const pct = (v) => Math.round(Number(v) * 100);
    const rows = LABEL_ELEMENTS.filter(([key]) => k(key) != null).map(([key, title]) => `<tr data-element="${key}">
        <td>${esc(title)}</td>
        <td class="num"><span data-k="label-${key}">${pct(k(key))}</span> %</td>
        <td><div class="bar" role="img" aria-label="${pct(k(key))} %"><span style="width:${pct(k(key))}%"></span></div></td>
        <td class="small muted">${esc(k(key + ".basis") || "")}</td></tr>`).join("");
    const dims = LABEL_DIMENSIONS.map(([key, title]) =>
      k("dimension." + key) != null ? `${esc(title)} ${pct(k("dimension." + key))} %` : `${esc(title)} ikke målt`).join(" · ");
    return `<section class="panel" id="quality-label">
        <div class="head"><h3>EHDS-kvalitetsmærke</h3>
          ${chip(k("level_title") || k("level"), LABEL_CLASS[k("level")] || "")}
          <span class="score"><strong data-k="label-score">${esc(k("score"))}</strong> / 100</span></div>
        <p class="small muted">Datakvalitets- og anvendelighedsmærke efter EHDS-forordningens art. 78, beregnet af
          platformen ud fra specifikationen, kvalitetshistorikken og søen (kun optællinger). Platin ≥ 90, guld ≥ 75,
          sølv ≥ 60, bronze ≥ 40.</p>
        <div class="table-wrap"><table class="label"><thead><tr><th>Element</th><th>Score</th><th></th><th>Grundlag</th></tr></thead>
          <tbody>${rows}</tbody></table></div>
        <p class="small">Teknisk kvalitet pr. dimension: <span data-k="label-dimensions">${dims}</span></p>
      </section>`;
  }

  /* Whether the product is k-anonymous over its quasi-identifiers, or row-level under a permit only. */
  function kAnonymityFact(props) {
    if (!props.quasi_identifiers) return "";
    const qis = `<div class="small muted">over ${esc(props.quasi_identifiers)}</div>`;
    if (props.k_anonymity === "not_achievable") {
      return `<div class="fact" id="k-anonymity"><dt>k-anonymitet</dt><dd>${chip("Ikke k-anonymt", "advarsel")}
        <span class="small muted">Rækkeniveau: kun under en tilladelse i et arbejdsområde; optællinger kun med småtalsundertrykkelse.</span>
        ${qis}<div class="small">${esc(props.k_anonymity_justification || "")}</div></dd></div>`;
    }
    return `<div class="fact" id="k-anonymity"><dt>k-anonymitet</dt><dd>${chip(`k ≥ ${esc(props.min_k)}`, "ok")}
      <span class="small muted">Hver kombination forekommer mindst ${esc(props.min_k)} gange.</span>${qis}</dd></div>`;
  }

  function schemaTable(p) {
    return `<div class="panel table-wrap"><table class="schema">
      <thead><tr><th>Kolonne</th><th>Type</th><th>Beskrivelse</th><th>Klassifikation</th><th>Kodesystem</th><th>Begreber</th></tr></thead>
      <tbody>${p.fields.map((f) => `<tr data-col="${esc(f.name)}">
        <td class="mono">${esc(f.name)}${f.key ? ' <span class="chip" title="Rækkenøgle">nøgle</span>' : ""}</td>
        <td class="mono small">${esc(f.type)}</td>
        <td>${esc(f.description)}</td>
        <td>${f.classification !== "none" ? chip(CLASS_LABEL[f.classification] || f.classification, f.classification) : '<span class="muted small">ingen</span>'}</td>
        <td>${f.code_system ? chip(CODE_LABEL[f.code_system] || f.code_system, "code") : '<span class="muted small">–</span>'}</td>
        <td class="small">${f.terms.map(termLink).join(", ")}</td></tr>`).join("")}</tbody></table></div>`;
  }

  /* Small inline SVG: share of the category's checks passed per run, oldest → newest. */
  function trend(history, category) {
    const pts = history
      .map((r) => [r.at, r.cats[category]])
      .filter(([, c]) => c && c.total)
      .map(([at, c]) => [at, c.passed / c.total, c]);
    const w = 200, h = 44, pad = 6;
    if (!pts.length) return `<svg class="trend" width="${w}" height="${h}" role="img" aria-label="Ingen kørsler"><line class="base" x1="0" y1="${h - pad}" x2="${w}" y2="${h - pad}"/></svg>`;
    const x = (i) => (pts.length === 1 ? w / 2 : pad + (i * (w - 2 * pad)) / (pts.length - 1));
    const y = (v) => pad + (1 - v) * (h - 2 * pad);
    const line = pts.map(([, v], i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    return `<svg class="trend" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="Tendens: andel beståede regler pr. kørsel">
      <line class="base" x1="0" y1="${y(1)}" x2="${w}" y2="${y(1)}"/><line class="base" x1="0" y1="${y(0)}" x2="${w}" y2="${y(0)}"/>
      ${pts.length > 1 ? `<polyline class="line" points="${line}"/>` : ""}
      ${pts.map(([at, v, c], i) => `<circle class="dot" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3"><title>${fmtDateTime(at)}: ${c.passed} af ${c.total} bestået</title></circle>`).join("")}
    </svg>`;
  }

  function quality(p) {
    if (!p.checks.length) return '<p class="muted">Ingen kvalitetsregler registreret.</p>';
    const cats = KAHN.map(([key, label, help]) => {
      const checks = p.checks.filter((c) => c.category === key);
      if (!checks.length) return "";
      const ran = checks.filter((c) => c.result);
      const passed = ran.filter((c) => c.result === "SUCCESS").length;
      const bad = ran.filter((c) => c.result !== "SUCCESS");
      const status = !ran.length ? "ukendt" : bad.some((c) => c.severity === "blocking") ? "fejl" : bad.length ? "advarsel" : "ok";
      return `<div class="panel kahn-cat" data-kahn="${key}">
        <div class="head"><h3>${label}</h3>${statusChip(status)}</div>
        <div class="small muted">${help}</div>
        ${trend(p.quality_history, key)}
        <div class="small"><strong>${passed} af ${ran.length}</strong> regler bestået ved seneste kørsel</div>
        <ul class="plain checks">${checks.map((c) => `<li>${esc(c.description || c.check)}
          <div class="small muted"><span class="mono">${esc(c.check)}</span> · ${c.severity === "blocking" ? "blokerende" : "advarsel"}
          ${c.result ? "· " + chip(resultLabel(c), c.result === "SUCCESS" ? "ok" : c.severity === "blocking" ? "fejl" : "advarsel") : "· ikke kørt"}
          ${c.unexpected ? `· ${fmtInt(c.unexpected)} afvigende af ${fmtInt(c.rows)}` : ""}</div></li>`).join("")}</ul>
      </div>`;
    });
    const other = p.checks.filter((c) => !KAHN.some(([k]) => k === c.category));
    return `<div class="kahn">${cats.join("")}</div>${other.length ? `<p class="small muted">Øvrige kontroller (platform, privatliv): ${other.map((c) => esc(c.check) + " " + (c.result ? chip(resultLabel(c), c.result === "SUCCESS" ? "ok" : "advarsel") : "")).join(" · ")}</p>` : ""}
      <p class="small muted">${p.quality_history.length} kørsel${p.quality_history.length === 1 ? "" : "er"} i historikken · seneste ${fmtDateTime((p.quality_history[p.quality_history.length - 1] || {}).at)}</p>`;
  }

  /* ---------- lineage graph ---------- */
  function lineageGraph(p) {
    // Levels: upstream chain to the left (negative), downstream chain to the right (positive).
    const level = new Map([[p.urn, 0]]);
    const edges = [];
    const walkUp = (urn, lv) => {
      const prod = byUrn.get(urn);
      (prod ? prod.upstreams : []).forEach((u) => {
        edges.push([u, urn]);
        if (!level.has(u) || level.get(u) > lv - 1) level.set(u, Math.min(level.get(u) ?? 0, lv - 1));
        walkUp(u, lv - 1);
      });
    };
    const walkDown = (urn, lv) => {
      const prod = byUrn.get(urn);
      (prod ? prod.downstreams : []).forEach((dn) => {
        edges.push([urn, dn]);
        if (!level.has(dn)) level.set(dn, lv + 1);
        walkDown(dn, lv + 1);
      });
    };
    walkUp(p.urn, 0);
    walkDown(p.urn, 0);
    const unique = [...new Map(edges.map((e) => [e.join("→"), e])).values()];
    return { level, edges: unique };
  }

  function lineage(p) {
    const { level, edges } = lineageGraph(p);
    const colLineage = p.column_lineage || [];
    const usedUp = new Map(); // upstream urn -> set of columns used by the focus product
    colLineage.forEach((cl) => cl.from.forEach(([ds, col]) => {
      if (!usedUp.has(ds)) usedUp.set(ds, new Set());
      usedUp.get(ds).add(col);
    }));
    const W = 230, GAP = 90, HEAD = 44, ROW = 17, VGAP = 22;
    const cols = (urn) => {
      if (urn === p.urn) return p.fields.map((f) => f.name);
      return usedUp.has(urn) ? [...usedUp.get(urn)].sort() : [];
    };
    const levels = [...new Set(level.values())].sort((a, b) => a - b);
    const minLv = levels[0];
    const pos = new Map();
    let height = 0;
    levels.forEach((lv) => {
      const urns = [...level.entries()].filter(([, l]) => l === lv).map(([u]) => u).sort();
      let y = 16;
      urns.forEach((urn) => {
        const n = cols(urn).length;
        const h = HEAD + (n ? n * ROW + 8 : 0);
        pos.set(urn, { x: 16 + (lv - minLv) * (W + GAP), y, h });
        y += h + VGAP;
      });
      height = Math.max(height, y);
    });
    const width = 32 + levels.length * W + (levels.length - 1) * GAP;
    const colY = (urn, col) => {
      const i = cols(urn).indexOf(col);
      const b = pos.get(urn);
      return i < 0 ? b.y + HEAD / 2 : b.y + HEAD + 4 + i * ROW + ROW / 2 - 2;
    };
    const curve = (x1, y1, x2, y2) => {
      const mx = (x1 + x2) / 2;
      return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    };
    const edgeSvg = edges.map(([a, b]) => {
      const pa = pos.get(a), pb = pos.get(b);
      if (!pa || !pb) return "";
      return `<path class="lineage-edge" data-from="${esc(a)}" data-to="${esc(b)}" marker-end="url(#arrow)"
        d="${curve(pa.x + W, pa.y + HEAD / 2, pb.x, pb.y + HEAD / 2)}"/>`;
    }).join("");
    const colEdges = colLineage.flatMap((cl) => cl.from.map(([ds, col]) => {
      const pa = pos.get(ds), pb = pos.get(p.urn);
      if (!pa || !pb) return "";
      return `<path class="col-edge" data-col="${esc(cl.column)}" data-up="${esc(col)}"
        d="${curve(pa.x + W, colY(ds, col), pb.x, colY(p.urn, cl.column))}"><title>${esc(col)} → ${esc(cl.column)} (${esc(cl.op)})</title></path>`;
    })).join("");
    const nodeSvg = [...pos.entries()].map(([urn, b]) => {
      const prod = byUrn.get(urn);
      const ds = DATA.datasets[urn] || { label: urn, platform: "" };
      const focus = urn === p.urn;
      const cls = `lineage-node${focus ? " focus" : ""}${prod ? "" : " source"}`;
      const title = (prod ? prod.title : ds.label).slice(0, 32);
      const sub = prod ? prod.ref : `kilde: ${ds.platform.toUpperCase()}`;
      const head = prod && !focus
        ? `<a href="#/produkt/${esc(prod.ref)}"><text class="title" x="${b.x + 10}" y="${b.y + 19}">${esc(title)}</text></a>`
        : `<text class="title" x="${b.x + 10}" y="${b.y + 19}">${esc(title)}</text>`;
      const colRows = cols(urn).map((c, i) =>
        `<text class="col" data-col="${esc(c)}" data-node="${focus ? "focus" : "up"}" x="${b.x + 14}" y="${b.y + HEAD + 4 + (i + 1) * ROW - 4}">${esc(c)}</text>`).join("");
      return `<g class="${cls}" data-urn="${esc(urn)}"><title>${esc(prod ? prod.title : ds.label)}</title>
        <rect class="box" x="${b.x}" y="${b.y}" width="${W}" height="${b.h}"/>
        ${head}<text class="sub" x="${b.x + 10}" y="${b.y + 35}">${esc(sub)}</text>
        ${cols(urn).length ? `<line x1="${b.x}" x2="${b.x + W}" y1="${b.y + HEAD}" y2="${b.y + HEAD}" stroke="#e1e5ea"/>` : ""}${colRows}</g>`;
    }).join("");
    return `<div class="legend"><span>Opstrøms til venstre, nedstrøms til højre.</span>
        ${colLineage.length ? "<span>Hold musen over en kolonne for at se, hvilke kolonner den kommer fra.</span>" : ""}</div>
      <div class="lineage"><svg id="lineage-svg" role="img" aria-label="Afstamningsgraf for ${esc(p.title)}"
        width="${width}" height="${Math.max(height, 90)}" viewBox="0 0 ${width} ${Math.max(height, 90)}">
        <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" fill="#9aa7b4"/></marker></defs>
        ${colEdges}${edgeSvg}${nodeSvg}</svg></div>`;
  }

  function wireLineage() {
    const svg = document.getElementById("lineage-svg");
    if (!svg) return;
    const set = (col, on) => {
      svg.querySelectorAll(`.col-edge[data-col="${CSS.escape(col)}"]`).forEach((e) => {
        e.classList.toggle("on", on);
        svg.querySelectorAll(`text.col[data-node="up"][data-col="${CSS.escape(e.dataset.up)}"]`).forEach((t) => t.classList.toggle("on", on));
      });
      svg.querySelectorAll(`text.col[data-node="focus"][data-col="${CSS.escape(col)}"]`).forEach((t) => t.classList.toggle("on", on));
      document.querySelectorAll(`table.schema tr[data-col="${CSS.escape(col)}"]`).forEach((r) => r.classList.toggle("hl", on));
    };
    svg.querySelectorAll('text.col[data-node="focus"]').forEach((t) => {
      t.addEventListener("mouseenter", () => set(t.dataset.col, true));
      t.addEventListener("mouseleave", () => set(t.dataset.col, false));
    });
  }

  /* ---------- feasibility: counts from the access service ---------- */
  // The API lives on the same origin as the site (served at <prefix>/site/ by the service).
  const API = location.pathname.includes("/site/") ? location.pathname.split("/site/")[0] : "";
  const TOKEN_KEY = "regionlab.token"; // sessionStorage only: gone when the tab closes
  const DIMENSIONS = [["sex", "køn"], ["age_band", "aldersgruppe"], ["municipality", "kommune"]];
  const DIM_TITLE = { sex: "Køn", age_band: "Aldersgruppe", municipality: "Kommune" };
  let serviceProbe = null;
  /* Whether the access service answers /health on this origin (asked once per page load). */
  function serviceAvailable() {
    if (!serviceProbe) {
      serviceProbe = !/^https?:$/.test(location.protocol)
        ? Promise.resolve(false)
        : fetch(API + "/health", { cache: "no-store", credentials: "omit" })
            .then((r) => (r.ok ? r.json() : null))
            .then((body) => !!body && body.status === "ok")
            .catch(() => false);
    }
    return serviceProbe;
  }
  const readToken = () => {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  };
  const keepToken = (t) => {
    try { t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
  };

  function feasibilityForm() {
    return `<p class="small muted">Adgangstjenesten tæller de unikke personer i en kohorte. Små tal skjules
        (under tærsklen), og hver forespørgsel logges i tjenestens revisionslog under dit navn.</p>
      <form id="fz-form" class="fz" novalidate autocomplete="off">
        <div class="fz-row">
          <label>Adgangsnøgle (token)<input id="fz-token" type="password" spellcheck="false" required
            aria-describedby="fz-token-help"></label>
          <button type="button" id="fz-forget" class="link">Glem nøglen</button>
        </div>
        <div id="fz-token-help" class="small muted">Din personlige nøgle fra platformen (rollen forsker). Den gemmes kun i denne fane og sendes kun til adgangstjenesten.</div>
        <fieldset><legend>Kohorte</legend>
          <div class="fz-grid">
            <label>Diagnosekode (SKS, begynder med)<input id="fz-diagnosis" placeholder="fx DE11" spellcheck="false"></label>
            <label>Alder fra<input id="fz-age-min" type="number" min="0" max="120" inputmode="numeric"></label>
            <label>Alder til<input id="fz-age-max" type="number" min="0" max="120" inputmode="numeric"></label>
            <label>Køn<select id="fz-sex"><option value="">Alle</option><option value="K">Kvinder</option><option value="M">Mænd</option></select></label>
            <label>Kommune<input id="fz-municipality" placeholder="fx Vejle eller 630" spellcheck="false"></label>
            <label>Projekt (valgfrit)<input id="fz-project" placeholder="fx t2d-hba1c" spellcheck="false"></label>
          </div>
        </fieldset>
        <fieldset><legend>Opdel efter (valgfrit)</legend>
          ${DIMENSIONS.map(([v, label]) => `<label class="check"><input type="checkbox" name="fz-by" value="${v}"> ${label}</label>`).join("")}
        </fieldset>
        <button type="submit" id="fz-submit">Tæl personer</button>
      </form>
      <div id="fz-error" class="fz-error" role="alert" hidden></div>
      <div id="fz-result" hidden></div>`;
  }

  /* The cohort definition the form describes (cohorts/*.yaml as JSON); the service validates it. */
  function formCohort(ref) {
    const val = (id) => document.getElementById(id).value.trim();
    const cohort = { name: "katalog", title: `Forespørgsel fra katalogets side for ${ref}` };
    const diagnosis = val("fz-diagnosis").toUpperCase();
    if (diagnosis) cohort.include = [{ kind: "diagnosis", codes: diagnosis.split(/[\s,]+/).filter(Boolean) }];
    const min = val("fz-age-min"), max = val("fz-age-max");
    if (min || max) {
      cohort.age = {};
      if (min) cohort.age.min = Number(min);
      if (max) cohort.age.max = Number(max);
    }
    if (val("fz-sex")) cohort.sex = [val("fz-sex")];
    const munis = val("fz-municipality").split(",").map((m) => m.trim()).filter(Boolean);
    if (munis.length) cohort.municipality = munis;
    return cohort;
  }

  /* What went wrong, in Danish, with what to do about it. */
  function feasibilityError(status, body) {
    const detail = body && body.detail;
    const why = Array.isArray(detail)
      ? detail.map((d) => `${(d.loc || []).filter((l) => l !== "body").join(".")}: ${d.msg}`).join("; ")
      : detail ? String(detail) : "";
    if (status === 401) {
      return "Nøglen blev ikke godkendt (401): den er ukendt, tilbagekaldt eller udløbet. " +
        "Tjek, at du har indsat hele nøglen, eller bed platformens administrator om en ny.";
    }
    if (status === 403) {
      return "Din rolle må ikke spørge om antal personer (403). Kun forskere (rollen researcher) kan; " +
        "brug din forskernøgle, eller kontakt regionens adgangsansvarlige.";
    }
    if (status === 422) {
      return `Adgangstjenesten afviste forespørgslen (422)${why ? ": " + why : ""}. ` +
        "Ret kohorten (fx diagnosekode, alder eller kommune) og prøv igen.";
    }
    return `Adgangstjenesten svarede ikke som ventet (${status || "ingen forbindelse"}). Prøv igen om lidt.`;
  }

  function feasibilityResult(a) {
    const show = (v) => (typeof v === "number" ? fmtInt(v) : esc(v)); // a string is the hidden marker
    const keyLabel = (k) => (k === "Total" ? "I alt" : esc(k));
    const table = a.dimensions.length
      ? `<table class="fz-table"><thead><tr>${a.dimensions.map((d) => `<th>${esc(DIM_TITLE[d] || d)}</th>`).join("")}<th class="num">Personer</th></tr></thead>
          <tbody>${a.cells.map((c) => `<tr data-key="${esc(c.key.join("|"))}"${c.margin ? ' class="margin"' : ""}>
            ${c.key.map((k) => `<td>${keyLabel(k)}</td>`).join("")}
            <td class="num${typeof c.display === "string" ? " hidden-cell" : ""}" data-k="fz-cell">${show(c.display)}</td></tr>`).join("")}</tbody></table>`
      : "";
    return `<div class="fz-total"><span class="num" data-k="fz-total">${show(a.total)}</span> personer i kohorten</div>
      <p class="small">Tal under <span data-k="fz-threshold">${esc(a.threshold)}</span> er skjult af tjenesten${a.rounding > 1 ? `; viste tal er afrundet til nærmeste ${esc(a.rounding)}` : ""}.
        Snapshot <span class="mono">${esc(a.snapshot_id)}</span> · talt for <strong>${esc(a.user)}</strong> ·
        revisionslog-id <span class="mono" data-k="fz-audit">${esc(a.audit_entry_id)}</span></p>
      ${table}
      ${a.notes.length ? `<ul class="small muted">${a.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}`;
  }

  function wireFeasibility() {
    const box = document.getElementById("feasibility");
    if (!box) return;
    const ref = box.dataset.product;
    serviceAvailable().then((up) => {
      if (!document.body.contains(box)) return; // the reader has moved on
      if (!up) {
        box.innerHTML = `<p id="feasibility-note">Antal personer kræver regionens adgangstjeneste. Åbn kataloget
          fra tjenesten (<span class="mono">regionlab serve</span>, adressen <span class="mono">/site/</span>), så kan du
          som forsker spørge om antal her; tallene beregnes, skjules og logges af tjenesten, aldrig i browseren.</p>`;
        return;
      }
      box.innerHTML = feasibilityForm();
      const form = document.getElementById("fz-form");
      const token = document.getElementById("fz-token");
      const error = document.getElementById("fz-error");
      const result = document.getElementById("fz-result");
      token.value = readToken();
      document.getElementById("fz-forget").addEventListener("click", () => { keepToken(""); token.value = ""; });
      const fail = (msg) => { error.textContent = msg; error.hidden = false; result.hidden = true; };
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        error.hidden = true;
        const secret = token.value.trim();
        if (!secret) { fail("Indsæt din adgangsnøgle først (rollen forsker)."); return; }
        keepToken(secret);
        const body = { cohort: formCohort(ref), by: [...form.querySelectorAll('input[name="fz-by"]:checked')].map((c) => c.value) };
        const project = document.getElementById("fz-project").value.trim();
        if (project) body.project = project;
        const button = document.getElementById("fz-submit");
        button.disabled = true;
        try {
          const r = await fetch(API + "/feasibility", {
            method: "POST",
            credentials: "omit",
            cache: "no-store",
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + secret },
            body: JSON.stringify(body),
          });
          const answer = await r.json().catch(() => null);
          if (!r.ok || !answer) { fail(feasibilityError(r.status, answer)); return; }
          result.innerHTML = feasibilityResult(answer);
          result.hidden = false;
        } catch (err) {
          fail(feasibilityError(0, null));
        } finally {
          button.disabled = false;
        }
      });
    });
  }

  /* ---------- initiatives ---------- */
  const STATUS_TEXT = { pass: "godkendt", warn: "advarsel", block: "blokeret" };
  function modelsOf(i) {
    const models = (DATA.models || []).filter((m) => m.initiatives.includes(i.id));
    return models.map((m) => {
      const headline = m.metrics.auroc || m.metrics["f1.all"] || "";
      const trend = m.trend.map((t) => `<span class="trend trend-${esc(t)}" title="${esc(t)}">${t === "pass" ? "●" : t === "warn" ? "▲" : "■"}</span>`).join("");
      return `<div class="model small" data-model="${esc(m.name)}">
        <div>Model ${esc(m.name)}: ${chip("validering: " + (STATUS_TEXT[m.status] || m.status || "aldrig"), "status-" + (m.status || "never"))}</div>
        <div class="muted">${m.validated_at ? "senest " + esc(m.validated_at.slice(0, 16).replace("T", " ")) : "ikke valideret"}${trend ? " · udvikling " + trend : ""}</div>
        ${headline ? `<div class="muted">${esc(headline)}</div>` : ""}
        ${m.report ? `<a href="${esc(m.report)}" target="_blank" rel="noopener">Valideringsrapport</a>` : ""}
      </div>`;
    }).join("");
  }

  function initiativesPage(target) {
    const overlaps = (i) =>
      DATA.initiatives.filter((o) => o.id !== i.id && o.kind === i.kind &&
        o.products.filter((r) => i.products.includes(r)).length >= 2 && i.products.length > 0);
    const col = (phase) => {
      const items = DATA.initiatives.filter((i) => i.phase === phase);
      return `<section class="phase" data-phase="${esc(phase)}"><h2><span>${esc(phase.charAt(0).toUpperCase() + phase.slice(1))}</span><span class="muted">${items.length}</span></h2>
        ${items.map((i) => {
          const dup = overlaps(i);
          return `<article class="ini${i.id === target ? " target" : ""}" id="ini-${esc(i.id)}">
            <h3>${esc(i.name)}</h3>
            <div class="meta">${esc(i.id)} · ${esc(i.kind)} · ${esc(i.owner)}<br>${esc(i.department)}</div>
            <div style="margin:.35rem 0">${chip("AI Act: " + (i.ai_act_risk || "–"), "risk-" + i.ai_act_risk)}</div>
            <div class="small">${i.products.map(productLink).join(", ") || '<span class="muted">ingen dataprodukter</span>'}</div>
            ${modelsOf(i)}
            ${dup.length ? `<div class="dup">Ligner: ${dup.map((o) => `<a href="#/initiativer/${esc(o.id)}">${esc(o.id)}</a> (${esc(o.phase)})`).join(", ")} — samme type og mindst to fælles produkter</div>` : ""}
          </article>`;
        }).join("") || '<p class="muted small">Ingen initiativer i denne fase.</p>'}
      </section>`;
    };
    const other = DATA.initiatives.filter((i) => !PHASES.includes(i.phase));
    return `<h1>Initiativer med AI og automatisering</h1>
      <p class="lead">Regionens register over initiativer efter fase, med ansvarlig, afdeling, risikoklasse efter AI-forordningen og de dataprodukter, de bruger. Initiativer af samme type med overlappende data er markeret, så dobbeltafprøvninger bliver synlige.</p>
      <div class="board">${PHASES.map(col).join("")}</div>
      ${other.length ? `<p class="small muted">Uden kendt fase: ${other.map((i) => esc(i.name)).join(", ")}</p>` : ""}`;
  }

  /* ---------- glossary ---------- */
  function glossaryPage(target) {
    return `<h1>Begreber</h1><p class="lead">Regionens fælles ordliste. Begreberne er knyttet til produkter og kolonner i kataloget.</p>
      ${DATA.glossary.map((n) => `<h2>${esc(n.name)}</h2><p class="muted">${esc(n.description)}</p>
        <div class="grid cards">${n.terms.map((t) => `<div class="panel term${t.id === target ? " target" : ""}" id="term-${esc(t.id)}">
          <h3>${esc(t.name)}</h3><p class="small">${esc(t.definition)}</p>
          ${t.related.length ? `<div class="small muted">Relateret: ${t.related.map(termLink).join(", ")}</div>` : ""}
          ${t.products.length ? `<div class="small">Bruges i: ${t.products.map(productLink).join(", ")}</div>` : ""}
        </div>`).join("")}</div>`).join("")}`;
  }

  function notFound(msg) {
    return `<h1>Ikke fundet</h1><p>${esc(msg)}</p><p><a href="#/">Til oversigten</a></p>`;
  }

  /* ---------- router ---------- */
  function route() {
    const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
    const [page, ...rest] = hash.split("/");
    const arg = rest.join("/");
    let html, nav = page || "oversigt", after = null;
    if (!page) html = overview();
    else if (page === "domaener") { html = domainsPage(); nav = "domaene"; }
    else if (page === "domaene") html = domainPage(arg);
    else if (page === "produkt") { html = productPage(arg); nav = "domaene"; after = () => { wireLineage(); wireFeasibility(); }; }
    else if (page === "initiativer") { html = initiativesPage(arg); after = () => arg && scrollTo("ini-" + arg); }
    else if (page === "begreber") { html = glossaryPage(arg); after = () => arg && scrollTo("term-" + arg); }
    else html = notFound(`Siden “${hash}” findes ikke.`);
    const main = document.getElementById("main");
    main.innerHTML = html;
    document.querySelectorAll(".nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    const h1 = main.querySelector("h1");
    document.title = (h1 ? h1.textContent + " · " : "") + "Datakatalog";
    if (after) after(); else window.scrollTo(0, 0);
  }
  function scrollTo(id) {
    const el = document.getElementById(id);
    if (el) el.scrollIntoView({ block: "center" });
  }

  /* ---------- search ---------- */
  let index = null;
  function searchIndex() {
    if (!index) index = MiniSearch.loadJS(window.RL_INDEX, window.RL_SEARCH_OPTIONS);
    return index;
  }
  function wireSearch() {
    const input = document.getElementById("q");
    const box = document.getElementById("results");
    let focus = -1;
    const render = () => {
      const q = input.value.trim();
      if (!q) { box.hidden = true; box.innerHTML = ""; return; }
      const hits = searchIndex().search(q, {
        prefix: true, fuzzy: (t) => (t.length > 4 ? 0.2 : 0), combineWith: "AND",
        boost: { title: 3, tags: 1.5, terms: 1.2 },
      }).slice(0, 12);
      focus = -1;
      box.innerHTML = hits.length
        ? hits.map((h) => `<a class="result" role="option" href="${esc(h.url)}"><div class="kind">${esc(h.kind)}</div>
            <div class="title">${esc(h.title)}</div><div class="snip">${esc(h.snippet || "")}</div></a>`).join("")
        : `<div class="empty">Ingen resultater for “${esc(q)}”.</div>`;
      box.hidden = false;
    };
    input.addEventListener("input", render);
    input.addEventListener("focus", () => input.value.trim() && render());
    input.addEventListener("keydown", (e) => {
      const items = [...box.querySelectorAll(".result")];
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        focus = Math.max(0, Math.min(items.length - 1, focus + (e.key === "ArrowDown" ? 1 : -1)));
        items.forEach((el, i) => el.classList.toggle("focus", i === focus));
      } else if (e.key === "Enter" && items.length) {
        location.hash = items[Math.max(focus, 0)].getAttribute("href");
        box.hidden = true;
      } else if (e.key === "Escape") { box.hidden = true; }
    });
    box.addEventListener("click", () => { box.hidden = true; });
    document.addEventListener("click", (e) => { if (!e.target.closest(".search")) box.hidden = true; });
  }

  document.getElementById("foot").innerHTML =
    `Bygget ${fmtDateTime(DATA.generated_at)} fra katalogets metadata (${esc(DATA.source)}) · ` +
    `${DATA.products.length} dataprodukter · søgning med MiniSearch (MIT)`;
  wireSearch();
  window.addEventListener("hashchange", route);
  route();
})();
