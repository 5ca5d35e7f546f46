// Post the signed payment form to the gateway's hosted page at once (the button is the fallback).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("gateway-form");
  if (form) form.submit();
});
