// The review page's players: one plays at a time; a song's players share one position, so switching
// from the master to a stem carries on where it was; pictures show a playhead and seek on click;
// lyric sections light up while they play and seek on click. Plain DOM, nothing fetched.
(() => {
  "use strict";
  document.addEventListener("play", (event) => {
    for (const audio of document.querySelectorAll("audio")) if (audio !== event.target) audio.pause();
  }, true);

  for (const card of document.querySelectorAll("section.song")) {
    const players = [...card.querySelectorAll("audio")];
    if (players.length) wireCard(card, players);
  }
  highlightNav();

  function wireCard(card, players) {
    const scrubs = [...card.querySelectorAll(".scrub")];
    const sections = [...card.querySelectorAll(".lyrics .section[data-start]")];
    let active = players[0];
    let position = 0;
    let frame = 0;

    const show = (seconds) => {
      position = seconds;
      const started = seconds > 0 || !active.paused;
      for (const scrub of scrubs) {
        const d = scrub.dataset;
        const head = scrub.querySelector(".playhead");
        const along = (seconds - d.start) / (d.end - d.start);
        head.hidden = !started || along < 0 || along > 1;
        head.style.left = (100 * (+d.left + along * (d.right - d.left))).toFixed(3) + "%";
      }
      let now = null;
      for (const section of sections) if (+section.dataset.start <= seconds + 0.05) now = section;
      for (const section of sections) section.classList.toggle("now", started && section === now);
    };
    const follow = () => {
      show(active.currentTime);
      frame = active.paused ? 0 : requestAnimationFrame(follow);
    };
    const seek = async (seconds) => {
      const audio = active;
      const end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
      await moveTo(audio, Math.max(0, Math.min(seconds, end - 0.05)));
      show(audio.currentTime);
      audio.play().catch(() => {});
    };

    for (const audio of players) {
      audio.addEventListener("play", () => {
        if (audio !== active && Math.abs(audio.currentTime - position) > 0.25) {
          moveTo(audio, position).then(() => audio.paused && audio.play().catch(() => {}));
        }
        active = audio;
        for (const other of players) other.closest(".player").classList.toggle("playing", other === audio);
        if (!frame) frame = requestAnimationFrame(follow);
      });
      audio.addEventListener("pause", () => audio.closest(".player").classList.remove("playing"));
      audio.addEventListener("seeked", () => { if (audio === active || audio.paused) { active = audio; show(audio.currentTime); } });
      audio.addEventListener("ended", () => show(audio.currentTime));
    }
    for (const scrub of scrubs) {
      scrub.addEventListener("click", (event) => {
        const box = scrub.getBoundingClientRect();
        const d = scrub.dataset;
        const along = ((event.clientX - box.left) / box.width - d.left) / (d.right - d.left);
        if (along >= 0 && along <= 1) seek(+d.start + along * (d.end - d.start));
      });
    }
    for (const section of sections) {
      section.querySelector("button.tag").addEventListener("click", () => seek(+section.dataset.start));
    }
  }

  // A server without byte ranges (python -m http.server) leaves media unseekable: such a file is
  // fetched whole, once, and played from memory, where every position can be reached.
  async function moveTo(audio, seconds) {
    if (seconds > 0 && !canReach(audio, seconds) && /^https?:$/.test(location.protocol) && !audio.dataset.whole) {
      audio.dataset.whole = "loading";
      try {
        const response = await fetch(audio.currentSrc || audio.src);
        if (!response.ok) throw new Error(response.statusText);
        const loaded = new Promise((resolve) => audio.addEventListener("loadedmetadata", resolve, { once: true }));
        audio.src = URL.createObjectURL(await response.blob());
        await loaded;
        audio.dataset.whole = "yes";
      } catch (error) {
        audio.dataset.whole = "failed";
      }
    }
    audio.currentTime = seconds;
  }

  function canReach(audio, seconds) {
    for (let i = 0; i < audio.seekable.length; i++) {
      if (audio.seekable.start(i) <= seconds && seconds <= audio.seekable.end(i) + 0.01) return true;
    }
    return false;
  }

  // The nav chip of the song in view is marked, so a long album keeps its place.
  function highlightNav() {
    const links = new Map([...document.querySelectorAll(".jump a")].map((a) => [a.getAttribute("href").slice(1), a]));
    if (!("IntersectionObserver" in window) || !links.size) return;
    const seen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        for (const link of links.values()) link.classList.remove("current");
        const link = links.get(entry.target.id);
        if (!link) continue;
        link.classList.add("current");
        const list = link.closest(".jump");  // scroll the chip row only, never the page
        list.scrollLeft = link.offsetLeft - list.offsetLeft - (list.clientWidth - link.offsetWidth) / 2;
      }
    }, { rootMargin: "-45% 0px -50% 0px" });
    for (const card of document.querySelectorAll("section.song")) seen.observe(card);
  }
})();
