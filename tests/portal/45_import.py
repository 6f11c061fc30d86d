#!/usr/bin/python3
"""45_import.py: a tenant carried in an archive. The administrator downloads a tenant's
archive (made through the API here: a tenant created, exported, then deleted, so that
its ids are free again), and imports it through #/admin/tenants/import: a file that is
not an archive and an archive of a tenant that exists are refused with the server's
sentence in the page; the right file makes the tenant again, with its device, and opens
its page."""
import secrets
import urllib.request

from browser import *  # noqa: F401,F403

SUFFIX = secrets.token_hex(3)
CODE = "im" + SUFFIX
NAME = "Import Test " + SUFFIX
DL = os.path.join(OUT, "files")


def upload(path):
    f = drv.find_element(By.ID, "tenant-import-file")
    f.send_keys(path)
    drv.find_element(By.ID, "tenant-import-go").click()


def steps():
    os.makedirs(DL, exist_ok=True)
    tok = admin_token()
    st, t = api("POST", "admin/tenants", {"code": CODE, "name": NAME}, token=tok)
    if not check("set-up: a tenant to carry (%s)" % st, st == 201, t):
        return
    # The device is made in the new tenant (staff name it with X-Kaiden-Tenant).
    req = urllib.request.Request(URL + "/api/v1/devices", method="POST",
                                 data=json.dumps({"name": "carried-" + SUFFIX}).encode(),
                                 headers={"Authorization": "Bearer " + tok,
                                          "Content-Type": "application/json",
                                          "X-Kaiden-Tenant": CODE})
    with urllib.request.urlopen(req, timeout=10) as r:
        check("set-up: a device in it", r.status == 201)
    req = urllib.request.Request(URL + "/api/v1/tenant/export", method="POST", data=b"{}",
                                 headers={"Authorization": "Bearer " + tok,
                                          "Content-Type": "application/json",
                                          "X-Kaiden-Tenant": CODE})
    with urllib.request.urlopen(req, timeout=10) as r:
        archive = r.read()
    good = os.path.join(DL, "kaiden-%s.json" % CODE)
    with open(good, "wb") as f:
        f.write(archive)
    bad_file = os.path.join(DL, "not-an-archive.json")
    with open(bad_file, "w", encoding="utf-8") as f:
        f.write('{"format":"something-else","version":1}')

    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD)
    wait_for("signed in", EC.visibility_of_element_located((By.ID, "signout")))
    drv.get(URL + "/#/admin/tenants")
    if wait_for("the tenants page offers Import", EC.element_to_be_clickable((By.ID, "tenant-import"))):
        drv.find_element(By.ID, "tenant-import").click()
    if wait_for("the import page shows its form", EC.visibility_of_element_located((By.ID, "tenant-import-file"))):
        ok("the import page shows its form")
        check("the import page is at #/admin/tenants/import",
              drv.current_url.endswith("#/admin/tenants/import"), drv.current_url)
    drain("the import page")
    shoot("tenant-import")

    # Not an archive: the server's sentence.
    upload(bad_file)
    if wait_for("a file that is not an archive is refused", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#tenant-import-message .error"))):
        msg = text_of("#tenant-import-message .error")
        check("the refusal says what is wrong (%s)" % msg, "format" in msg.lower(), msg)
    drain("not an archive", {("/api/v1/tenant/import", 400)})

    if MODE != "multi":
        # Single mode acts in the default tenant only (X-Kaiden-Tenant is ignored), so the
        # export above is the default tenant's: importing it is refused, in words.
        upload(good)
        if wait_for("single mode: the default tenant's archive is refused",
                    EC.visibility_of_element_located((By.CSS_SELECTOR, "#tenant-import-message .error"))):
            msg = text_of("#tenant-import-message .error")
            check("single mode: the refusal is a sentence (%s)" % msg, len(msg) > 10 and msg.endswith("."), msg)
        drain("single mode: the default tenant's archive", {("/api/v1/tenant/import", 400),
                                                              ("/api/v1/tenant/import", 409)})
        return

    # The tenant still exists: already_exists.
    upload(good)
    if wait_for("an archive of a tenant that exists is refused", EC.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "#tenant-import-message .error"), "xist")):
        ok("an archive of a tenant that exists is refused")
    drain("a tenant that exists", {("/api/v1/tenant/import", 409)})

    # Deleted, then imported: it is back, with its device.
    st, _ = api("DELETE", "admin/tenants/" + t["id"], token=tok)
    check("set-up: the tenant deleted (%s)" % st, st == 204)
    upload(good)
    if wait_for("the archive is imported", EC.visibility_of_element_located((By.ID, "tenant-imported"))):
        ok("the archive is imported")
        check("the page names the tenant", CODE in text_of("#tenant-imported"), text_of("#tenant-imported"))
        shoot("tenant-imported")
        drv.find_element(By.ID, "tenant-imported-link").click()
        if wait_for("the link opens the tenant", EC.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "main h1"), NAME)):
            ok("the link opens the tenant")
        st, back = api("GET", "admin/tenants/" + t["id"], token=tok)
        check("the API has the tenant again, same id (%s)" % st, st == 200 and back["code"] == CODE, back)
    drain("import")

run(steps)
