#!/usr/bin/python3
"""99_lock.py: the sign-in lock, last of all (it locks the administrator's sign-in for
the rest of the stack's life): five wrong passwords, then the 429 and its wait."""
from browser import *  # noqa: F401,F403


def steps():
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    # 10. The lock: five wrong passwords, then 429 with its wait.
    statuses = {("/api/v1/auth/login", 401), ("/api/v1/auth/login", 429)}
    msg = ""
    for i in range(8):
        sign_in("wrong-%d" % i)
        wait_for("a wrong password is answered",
                 EC.visibility_of_element_located((By.CSS_SELECTOR, "#signin-message .error")))
        msg = text_of("#signin-message .error")
        if msg.startswith("Too many"):
            break
    check("the lock says how long to wait", msg.startswith("Too many sign-in attempts. Try again in ")
          and "minute" in msg, msg)
    drain("the 429 lock", statuses)
    shoot("signin-locked")


run(steps)
